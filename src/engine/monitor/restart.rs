//! Docker's restart rules: which exits restart, and the delay before each restart (100 ms,
//! doubling to one minute, back to 100 ms once the container ran for 10 seconds).

use std::time::Duration;

use crate::engine::container::config::RestartPolicy;

pub const FIRST_DELAY: Duration = Duration::from_millis(100);
pub const MAX_DELAY: Duration = Duration::from_secs(60);
/// A run at least this long resets the delay.
pub const RESET_AFTER: Duration = Duration::from_secs(10);

/// Whether an exit with `code` restarts, given the restarts already made.
pub fn should_restart(policy: RestartPolicy, code: i32, stopped: bool, restarts: u32) -> bool {
    if stopped {
        return false;
    }
    match policy {
        RestartPolicy::No => false,
        RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
        RestartPolicy::OnFailure { max_retries } => {
            code != 0 && (max_retries == 0 || restarts < max_retries)
        }
    }
}

/// The delay before the next restart.
pub fn next_delay(previous: Option<Duration>, ran_for: Duration) -> Duration {
    match previous {
        Some(d) if ran_for < RESET_AFTER => (d * 2).min(MAX_DELAY),
        _ => FIRST_DELAY,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockers_rules() {
        let on_failure = RestartPolicy::OnFailure { max_retries: 2 };
        assert!(should_restart(on_failure, 1, false, 0));
        assert!(should_restart(on_failure, 1, false, 1));
        assert!(!should_restart(on_failure, 1, false, 2));
        assert!(!should_restart(on_failure, 0, false, 0));
        assert!(should_restart(RestartPolicy::Always, 0, false, 99));
        assert!(!should_restart(RestartPolicy::Always, 0, true, 0));
        assert!(!should_restart(RestartPolicy::No, 1, false, 0));
        let quick = Duration::from_millis(5);
        let mut d = next_delay(None, quick);
        assert_eq!(d, FIRST_DELAY);
        for _ in 0..20 {
            d = next_delay(Some(d), quick);
        }
        assert_eq!(d, MAX_DELAY);
        assert_eq!(next_delay(Some(d), Duration::from_secs(11)), FIRST_DELAY);
    }
}
