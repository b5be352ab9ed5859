import CMalloc

/// Gives the allocator's free pages back to the system (glibc's `malloc_trim`; nothing elsewhere).
///
/// For a table that grows by replacing large arrays: glibc maps a large block on its own and unmaps
/// it when freed, but after the first such free it raises that size (its dynamic mmap threshold), so
/// the next blocks come from the heap, and a freed one stays in the process's memory until something
/// else reuses it. A table that grows by a third frees about three times its final arrays on the way
/// (some 250 MB for a million held sources).
/// The call walks every arena: for the few frees of a large block, not every free.
public func releaseFreedMemory() {
    _ = flowhound_release_free_memory()
}
