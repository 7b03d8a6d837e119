// Hangfire keeps its storage and configuration in process-wide statics (JobStorage.Current, GlobalConfiguration):
// test hosts built in parallel would hand each other their storage. One host at a time, as in the real portal.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
