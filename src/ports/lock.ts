// Mutual exclusion across workers for steps that read-then-write shared cluster pieces (a person's
// role, trust policy and identity mapping are shared by all of their grants on a cluster).
export interface Locks {
  /**
   * Runs `work` while holding `key`; waits (bounded) for another holder. The holder renews its lease
   * while `work` runs, however long that takes; the lease expires on its own if the holder dies, so a
   * crashed worker never blocks others for longer than `leaseMs`.
   * Throws `unavailable` when the lock cannot be had in time.
   */
  withLock<T>(
    key: string,
    work: () => Promise<T>,
    options?: { leaseMs?: number; waitMs?: number },
  ): Promise<T>;
}
