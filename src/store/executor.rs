//! The one piece of async machinery the stores need themselves: [`join_all`], to run futures
//! concurrently on the current task (the Durable Object store's revocation deletes sessions
//! a batch at a time; the conformance suite's concurrent increments). No executor: the platform (a
//! worker's event loop, a test's `block_on`) drives the future.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Runs futures concurrently on the current task and collects their outputs, in order. Every
/// pending future is polled again whenever the whole is polled.
pub(crate) async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    JoinAll {
        pending: futures.into_iter().map(|f| Some(Box::pin(f))).collect(),
        done: Vec::new(),
    }
    .await
}

struct JoinAll<F: Future> {
    pending: Vec<Option<Pin<Box<F>>>>,
    done: Vec<Option<F::Output>>,
}

// Nothing is pinned in place: the futures are boxed.
impl<F: Future> Unpin for JoinAll<F> {}

impl<F: Future> Future for JoinAll<F> {
    type Output = Vec<F::Output>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if this.done.is_empty() {
            this.done = this.pending.iter().map(|_| None).collect();
        }
        let mut all = true;
        for (slot, out) in this.pending.iter_mut().zip(this.done.iter_mut()) {
            if let Some(fut) = slot {
                match fut.as_mut().poll(cx) {
                    Poll::Ready(v) => {
                        *out = Some(v);
                        *slot = None;
                    }
                    Poll::Pending => all = false,
                }
            }
        }
        if all {
            Poll::Ready(this.done.iter_mut().filter_map(Option::take).collect())
        } else {
            Poll::Pending
        }
    }
}

#[cfg(test)]
mod tests {
    use super::join_all;
    use futures_executor::block_on;

    #[test]
    fn outputs_come_back_in_order() {
        let tasks = (0..5).map(|i| async move { i * 2 }).collect();
        assert_eq!(block_on(join_all(tasks)), vec![0, 2, 4, 6, 8]);
        let none: Vec<std::future::Ready<u8>> = Vec::new();
        assert!(block_on(join_all(none)).is_empty());
    }
}
