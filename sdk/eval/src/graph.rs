//! Reference graphs (flag → prerequisite flag, segment → segment) must be
//! acyclic and shallow, so evaluation terminates with bounded recursion.

use crate::error::CompileErrorKind;
use crate::ruleset::MAX_DEPTH;

/// Checks that `edges` (adjacency by node index) has no cycle and no path
/// longer than [`MAX_DEPTH`]. On failure returns the node to blame and why.
/// Iterative, so a long chain cannot overflow the stack while compiling.
pub(crate) fn check_acyclic(names: &[&str], edges: &[Vec<u32>]) -> Result<(), (usize, CompileErrorKind)> {
    const NEW: u8 = 0;
    const OPEN: u8 = 1;
    const DONE: u8 = 2;
    let n = names.len().min(edges.len());
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
                            let mut path: Vec<&str> = stack[from..].iter().map(|(x, _)| names[*x]).collect();
                            path.push(names[child]);
                            return Err((child, CompileErrorKind::Cycle(path.join(" -> "))));
                        }
                        _ => {}
                    }
                }
                None if *next < edges[node].len() => *next += 1,
                None => {
                    let d = edges[node].iter().filter_map(|c| depth.get(*c as usize)).map(|d| d + 1).max();
                    depth[node] = d.unwrap_or(0);
                    if depth[node] > MAX_DEPTH {
                        return Err((node, CompileErrorKind::TooDeep(MAX_DEPTH)));
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
        let names = ["a", "b", "c"];
        assert!(check_acyclic(&names, &[vec![1], vec![2], vec![]]).is_ok());
        let (at, kind) = check_acyclic(&names, &[vec![1], vec![2], vec![0]]).unwrap_err();
        assert_eq!(at, 0);
        assert_eq!(kind, CompileErrorKind::Cycle("a -> b -> c -> a".into()));
        let (_, kind) = check_acyclic(&names, &[vec![], vec![1], vec![]]).unwrap_err();
        assert_eq!(kind, CompileErrorKind::Cycle("b -> b".into()));
        // A diamond is fine.
        assert!(check_acyclic(&["a", "b", "c", "d"], &[vec![1, 2], vec![3], vec![3], vec![]]).is_ok());
    }

    #[test]
    fn long_chains_are_refused_without_overflowing() {
        let n = 100_000;
        let names: Vec<String> = (0..n).map(|i| format!("f{i}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let edges: Vec<Vec<u32>> = (0..n).map(|i| if i + 1 < n { vec![i as u32 + 1] } else { vec![] }).collect();
        let (_, kind) = check_acyclic(&names, &edges).unwrap_err();
        assert_eq!(kind, CompileErrorKind::TooDeep(MAX_DEPTH));
        let ok: Vec<Vec<u32>> =
            (0..=MAX_DEPTH).map(|i| if i < MAX_DEPTH { vec![i as u32 + 1] } else { vec![] }).collect();
        assert!(check_acyclic(&names[..=MAX_DEPTH], &ok).is_ok());
    }
}
