//! Signals to whole process groups. Agents, checks and steps run in a group of their own, so
//! what they leave running (a test server, `sleep &`) ends with them.

use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};

/// Send `signal` (0: only ask whether any member lives) to the group `pgid` leads. True when
/// it was delivered, i.e. the group still has a member.
pub fn signal_group(pgid: u32, signal: i32) -> bool {
    let Some(pid) = i32::try_from(pgid).ok().and_then(Pid::from_raw) else { return false };
    if signal == 0 {
        return rustix::process::test_kill_process_group(pid).is_ok();
    }
    let sig = match signal {
        2 => Signal::INT,
        9 => Signal::KILL,
        _ => Signal::TERM,
    };
    rustix::process::kill_process_group(pid, sig).is_ok()
}

pub const SIGINT: i32 = 2;
pub const SIGKILL: i32 = 9;
pub const SIGTERM: i32 = 15;

/// End the group: TERM, a moment for it to go, then KILL.
pub fn end_group(pgid: u32, grace: Duration) {
    signal_group(pgid, SIGTERM);
    let t = Instant::now();
    while signal_group(pgid, 0) && t.elapsed() < grace {
        std::thread::sleep(Duration::from_millis(20));
    }
    signal_group(pgid, SIGKILL);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_is_ended_with_what_it_left_running() {
        let mut c = std::process::Command::new("sh");
        c.args(["-c", "sleep 30 & sleep 30; wait"]);
        std::os::unix::process::CommandExt::process_group(&mut c, 0);
        let mut child = c.spawn().unwrap();
        let pgid = child.id();
        assert!(signal_group(pgid, 0));
        end_group(pgid, Duration::from_secs(2));
        child.wait().unwrap();
        let t = Instant::now();
        while signal_group(pgid, 0) && t.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!signal_group(pgid, 0), "a member of the group outlived it");
    }
}
