import Foundation
import Synchronization

/// An exclusive lock on a file (`flock`), held until released or the process ends: the kernel
/// drops it when a killed process's descriptors close, so a crash never leaves it behind.
final class FileLock: Sendable {
    private let descriptor: Int32
    private let released = Atomic<Bool>(false)

    /// Takes the lock, or throws at once if another process holds it.
    init(path: String) throws {
        let descriptor = Foundation.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw StoreError("cannot open the lock file \(path): \(String(cString: strerror(errno)))") }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let reason = errno == EWOULDBLOCK ? "another ply serve is using this match store" : String(cString: strerror(errno))
            Foundation.close(descriptor)
            throw StoreError("\(reason) (\(path) is locked); stop it, or give this one another --data file")
        }
        self.descriptor = descriptor
    }

    func release() {
        guard !released.exchange(true, ordering: .relaxed) else { return }
        flock(descriptor, LOCK_UN)
        Foundation.close(descriptor)
    }
}
