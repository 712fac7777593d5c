import Foundation

/// Another process holding SQLite's write lock, as a second Plutus or an operator's
/// `sqlite3` shell would, to exercise contention.
public enum ForeignWriteLock {
    /// Starts a process that takes `BEGIN IMMEDIATE` on `path` and keeps it for `seconds`.
    /// Returns once the lock is held; wait for the process to end to know it is released.
    public static func hold(_ path: String, seconds: Double) throws -> Process {
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        holder.arguments = [
            "python3", "-c",
            """
            import sqlite3, sys, time
            c = sqlite3.connect(sys.argv[1], isolation_level=None)
            c.execute('BEGIN IMMEDIATE'); print('locked', flush=True); time.sleep(float(sys.argv[2])); c.execute('COMMIT')
            """, path, String(seconds),
        ]
        let pipe = Pipe()
        holder.standardOutput = pipe
        try holder.run()
        _ = pipe.fileHandleForReading.availableData  // returns once "locked" is printed
        return holder
    }

    /// Like `hold`, but keeps the lock until `release` is called (its standard input closes),
    /// however slow the machine: for a test that must see the lock held when its request lands.
    public static func holdUntilReleased(_ path: String) throws -> (process: Process, release: @Sendable () -> Void) {
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        holder.arguments = [
            "python3", "-c",
            """
            import sqlite3, sys
            c = sqlite3.connect(sys.argv[1], isolation_level=None)
            c.execute('BEGIN IMMEDIATE'); print('locked', flush=True); sys.stdin.read(); c.execute('COMMIT')
            """, path,
        ]
        let output = Pipe()
        let input = Pipe()
        holder.standardOutput = output
        holder.standardInput = input
        try holder.run()
        _ = output.fileHandleForReading.availableData  // returns once "locked" is printed
        let writer = input.fileHandleForWriting
        return (holder, { try? writer.close() })
    }
}
