//! Tasks run at a given time, once or every so often (FreeSWITCH's core scheduler,
//! behind `sched_api`, `sched_hangup`, `sched_transfer`, `sched_del`). Each task is a
//! timer on the runtime; their number is bounded and each can be deleted by id or by
//! group.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::switch::{ControlError, Switch};

/// Tasks pending at once; more are refused.
pub const MAX_PENDING: usize = 10_000;

/// What a task does when its time comes (again, for a recurring one).
pub type TaskFn = Arc<dyn Fn(Switch) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// A pending task, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledTask {
    pub id: u32,
    pub group: String,
    pub when: SystemTime,
    /// Runs again this long after each run.
    pub every: Option<Duration>,
}

struct Entry {
    task: ScheduledTask,
    timer: tokio::task::AbortHandle,
}

#[derive(Default)]
pub(crate) struct Scheduler {
    tasks: Mutex<HashMap<u32, Entry>>,
    /// The last id given (ids start at 1, as FreeSWITCH's).
    last_id: Mutex<u32>,
}

impl Scheduler {
    fn tasks(&self) -> std::sync::MutexGuard<'_, HashMap<u32, Entry>> {
        crate::lock(&self.tasks)
    }

    /// Deletes every task (at shutdown).
    pub fn clear(&self) {
        for (_, entry) in self.tasks().drain() {
            entry.timer.abort();
        }
    }
}

impl Switch {
    /// Runs `task` at `when` (at once if that has passed), and every `every` after
    /// it if given; returns the task's id.
    pub fn schedule(
        &self,
        when: SystemTime,
        group: &str,
        every: Option<Duration>,
        task: TaskFn,
    ) -> Result<u32, ControlError> {
        let scheduler = self.scheduler();
        let mut tasks = scheduler.tasks();
        if tasks.len() >= MAX_PENDING {
            return Err(ControlError::Unprocessable(format!(
                "{MAX_PENDING} tasks are already scheduled"
            )));
        }
        let id = {
            let mut last = crate::lock(&scheduler.last_id);
            // Skip ids still in use after a wrap-around.
            loop {
                *last = last.checked_add(1).unwrap_or(1);
                if !tasks.contains_key(&last) {
                    break *last;
                }
            }
        };
        let switch = self.clone();
        let timer = tokio::spawn(async move {
            let mut next = when;
            loop {
                let wait = next
                    .duration_since(SystemTime::now())
                    .unwrap_or(Duration::ZERO);
                tokio::time::sleep(wait).await;
                task(switch.clone()).await;
                match every {
                    Some(every) => next = SystemTime::now() + every,
                    None => break,
                }
            }
            switch.scheduler().tasks().remove(&id);
        });
        tasks.insert(
            id,
            Entry {
                task: ScheduledTask {
                    id,
                    group: group.to_owned(),
                    when,
                    every,
                },
                timer: timer.abort_handle(),
            },
        );
        Ok(id)
    }

    /// Deletes a pending task; false if there is none with that id.
    pub fn unschedule(&self, id: u32) -> bool {
        let removed = self.scheduler().tasks().remove(&id);
        removed.map(|entry| entry.timer.abort()).is_some()
    }

    /// Deletes every pending task of `group`; returns how many.
    pub fn unschedule_group(&self, group: &str) -> usize {
        let mut tasks = self.scheduler().tasks();
        let ids: Vec<u32> = tasks
            .values()
            .filter(|e| e.task.group == group)
            .map(|e| e.task.id)
            .collect();
        for id in &ids {
            if let Some(entry) = tasks.remove(id) {
                entry.timer.abort();
            }
        }
        ids.len()
    }

    /// The pending tasks, by id.
    pub fn scheduled_tasks(&self) -> Vec<ScheduledTask> {
        let mut list: Vec<_> = self
            .scheduler()
            .tasks()
            .values()
            .map(|e| e.task.clone())
            .collect();
        list.sort_by_key(|t| t.id);
        list
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::testing::test_switch;

    fn counter() -> (Arc<AtomicUsize>, TaskFn) {
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        let task: TaskFn = Arc::new(move |_| {
            counted.fetch_add(1, Ordering::SeqCst);
            Box::pin(async {})
        });
        (runs, task)
    }

    #[tokio::test]
    async fn tasks_run_once_recur_and_are_deleted() {
        let switch = test_switch("scheduler").await;
        let (runs, task) = counter();
        let now = SystemTime::now();
        let once = switch.schedule(now, "g", None, task.clone()).unwrap();
        let later = switch
            .schedule(now + Duration::from_secs(3600), "g", None, task.clone())
            .unwrap();
        let every = switch
            .schedule(now, "r", Some(Duration::from_millis(20)), task)
            .unwrap();
        assert!(once < later && later < every);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            runs.load(Ordering::SeqCst) >= 3,
            "once, and the recurring ones"
        );
        let ids: Vec<u32> = switch.scheduled_tasks().iter().map(|t| t.id).collect();
        assert_eq!(ids, [later, every], "the one-off task is gone once run");
        assert_eq!(switch.unschedule_group("g"), 1);
        assert!(switch.unschedule(every));
        assert!(!switch.unschedule(every));
        let settled = runs.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(runs.load(Ordering::SeqCst), settled, "deleted tasks stop");
        assert!(switch.scheduled_tasks().is_empty());
    }
}
