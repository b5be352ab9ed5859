import Foundation

/// CPU time used so far, in seconds (user and system), from the kernel's per-thread and per-process
/// CPU clocks: what a part of the work cost, where wall time would also count waiting.
public enum CPUTime {
    /// The calling thread's.
    public static var thread: Double { seconds(CLOCK_THREAD_CPUTIME_ID) }
    /// The whole process's, every thread's together.
    public static var process: Double { seconds(CLOCK_PROCESS_CPUTIME_ID) }

    private static func seconds(_ clock: clockid_t) -> Double {
        var t = timespec()
        clock_gettime(clock, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }
}
