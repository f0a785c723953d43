//! `TCP_NODELAY` on the connections to Postgres.
//!
//! sqlx 0.9.0 opens its TCP sockets with Nagle's algorithm on: it used to
//! turn it off, stopped in 0.9.0, and turns it off again after that release
//! (transact-rs/sqlx#4335, fixed by #4336). With Nagle on, a statement
//! whose message leaves the client in more than one piece waits for
//! Postgres's delayed acknowledgement, about 40 ms on Linux, before its last
//! piece is sent. Measured here: event ingest (large array parameters) ran
//! at about 31,000 events/s over TCP on 127.0.0.1 against 90,000 over the
//! Unix socket, with Postgres busy for under a third of the time.
//!
//! sqlx does not hand out its socket, so every new pool connection sets the
//! option on each TCP socket of this process that lacks it (found through
//! `/proc/self/fd`). Every TCP socket the server owns wants it anyway: the
//! HTTP connections already have it (see `serve.rs`), the Postgres ones are
//! what this is for. Elsewhere than Linux it does nothing.

/// Sets `TCP_NODELAY` on every TCP socket of the process that lacks it;
/// returns how many it set. Blocking (one or two system calls per open
/// descriptor): run it off the async workers.
pub fn set_on_tcp_sockets() -> usize {
    #[cfg(target_os = "linux")]
    {
        let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
            return 0;
        };
        entries
            .flatten()
            .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<libc::c_int>().ok()))
            .filter(|&fd| enable(fd))
            .count()
    }
    #[cfg(not(target_os = "linux"))]
    {
        0
    }
}

/// Whether `fd` is a TCP socket (any state) whose `TCP_NODELAY` was off and is now on.
#[cfg(target_os = "linux")]
fn enable(fd: libc::c_int) -> bool {
    let size = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    let mut on: libc::c_int = 0;
    let mut len = size;
    // SAFETY: getsockopt writes at most `len` bytes into `on`, which is that
    // large. A descriptor that is not a TCP socket (or was closed since it
    // was listed) makes it fail; nothing else is touched.
    let read = unsafe {
        libc::getsockopt(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, std::ptr::from_mut(&mut on).cast(), &mut len)
    };
    if read != 0 || on != 0 {
        return false;
    }
    let one: libc::c_int = 1;
    // SAFETY: setsockopt reads `size` bytes from `one`, which is that large.
    // A descriptor reused since the getsockopt is another socket of this
    // process, which wants the option as well (see the module docs).
    unsafe { libc::setsockopt(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, std::ptr::from_ref(&one).cast(), size) == 0 }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::os::fd::AsRawFd;

    use super::*;

    fn nodelay(fd: libc::c_int) -> libc::c_int {
        let mut on: libc::c_int = -1;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: as in `enable`.
        let read = unsafe {
            libc::getsockopt(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, std::ptr::from_mut(&mut on).cast(), &mut len)
        };
        assert_eq!(read, 0);
        on
    }

    #[test]
    fn every_tcp_socket_gets_nodelay_and_others_are_left_alone() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let file = std::fs::File::open("/proc/self/status").unwrap();
        assert_eq!(nodelay(client.as_raw_fd()), 0, "sockets start with Nagle on");
        assert!(set_on_tcp_sockets() >= 2);
        assert_ne!(nodelay(client.as_raw_fd()), 0);
        assert_ne!(nodelay(server.as_raw_fd()), 0);
        assert!(!enable(file.as_raw_fd()), "a file is not a socket");
        assert!(!enable(client.as_raw_fd()), "already on: nothing to do");
    }
}
