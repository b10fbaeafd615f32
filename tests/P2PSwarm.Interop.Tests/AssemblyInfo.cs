// Every interop test starts node processes and moves megabytes over loopback; on a shared 2-core machine
// running them one at a time keeps them from starving each other into libp2p's own timeouts.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
