// The browser tests each start a portal and train; one at a time keeps them within the machine.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
