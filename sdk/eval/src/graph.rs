//! Reference graphs (flag → prerequisite flag, segment → segment) must be
//! acyclic and shallow, so evaluation terminates with bounded recursion.

use crate::ruleset::MAX_DEPTH;

/// Why a reference graph is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GraphError {
    /// The nodes of a cycle, in order (the first one is not repeated).
    Cycle(Vec<usize>),
    /// A path from this node is longer than [`MAX_DEPTH`].
    TooDeep(usize),
}

/// Checks that `edges` (adjacency by node index) has no cycle and no path
/// longer than [`MAX_DEPTH`]. Iterative, so a long chain cannot overflow the
/// stack while compiling.
pub(crate) fn check_acyclic(n: usize, edges: &[Vec<u32>]) -> Result<(), GraphError> {
    const NEW: u8 = 0;
    const OPEN: u8 = 1;
    const DONE: u8 = 2;
    let n = n.min(edges.len());
    let mut state = vec![NEW; n];
    let mut depth = vec![0usize; n];
    for root in 0..n {
        if state[root] != NEW {
            continue;
        }
        state[root] = OPEN;
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        while let Some((node, next)) = stack.last_mut() {
            let node = *node;
            match edges[node].get(*next).map(|c| *c as usize).filter(|c| *c < n) {
                Some(child) => {
                    *next += 1;
                    match state[child] {
                        NEW => {
                            state[child] = OPEN;
                            stack.push((child, 0));
                        }
                        OPEN => {
                            let from = stack.iter().position(|(x, _)| *x == child).unwrap_or(0);
                            return Err(GraphError::Cycle(stack[from..].iter().map(|(x, _)| *x).collect()));
                        }
                        _ => {}
                    }
                }
                None if *next < edges[node].len() => *next += 1,
                None => {
                    let d = edges[node].iter().filter_map(|c| depth.get(*c as usize)).map(|d| d + 1).max();
                    depth[node] = d.unwrap_or(0);
                    if depth[node] > MAX_DEPTH {
                        return Err(GraphError::TooDeep(node));
                    }
                    state[node] = DONE;
                    stack.pop();
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_cycles_and_depth() {
        assert!(check_acyclic(3, &[vec![1], vec![2], vec![]]).is_ok());
        assert_eq!(check_acyclic(3, &[vec![1], vec![2], vec![0]]), Err(GraphError::Cycle(vec![0, 1, 2])));
        assert_eq!(check_acyclic(3, &[vec![], vec![1], vec![]]), Err(GraphError::Cycle(vec![1])));
        // A diamond is fine.
        assert!(check_acyclic(4, &[vec![1, 2], vec![3], vec![3], vec![]]).is_ok());
    }

    #[test]
    fn long_chains_are_refused_without_overflowing() {
        let n = 100_000;
        let edges: Vec<Vec<u32>> = (0..n).map(|i| if i + 1 < n { vec![i as u32 + 1] } else { vec![] }).collect();
        assert!(matches!(check_acyclic(n, &edges), Err(GraphError::TooDeep(_))));
        let ok: Vec<Vec<u32>> =
            (0..=MAX_DEPTH).map(|i| if i < MAX_DEPTH { vec![i as u32 + 1] } else { vec![] }).collect();
        assert!(check_acyclic(MAX_DEPTH + 1, &ok).is_ok());
    }
}
