using Hangfire;
using Hangfire.Common;
using Hangfire.Server;

namespace SlmStudio.Web.Jobs;

/// <summary>
/// The run jobs' log lines carry the run id and the Hangfire job id as log scope properties ("RunId", "JobId"): with the
/// JSON console formatter and IncludeScopes they are fields a log search filters on, across the portal and every
/// worker. This filter notes the id of the job being performed; the jobs open the scope (<see cref="Begin"/>).
/// Stateless, so adding it to Hangfire's process-wide filters once is enough, however many hosts a process builds.
/// </summary>
public sealed class JobLogScope : JobFilterAttribute, IServerFilter
{
    private static readonly AsyncLocal<string?> CurrentJobId = new();

    /// <summary>Adds the filter to Hangfire's global filters unless it is there already.</summary>
    public static void Register()
    {
        lock (GlobalJobFilters.Filters)
            if (!GlobalJobFilters.Filters.Any(f => f.Instance is JobLogScope)) GlobalJobFilters.Filters.Add(new JobLogScope());
    }

    /// <summary>Opens the scope of one run's job: its run id, and its job id when Hangfire runs it.</summary>
    public static IDisposable? Begin(ILogger logger, int runId) =>
        logger.BeginScope(new Dictionary<string, object?> { ["RunId"] = runId, ["JobId"] = CurrentJobId.Value });

    // The job method runs on this thread after this call returns, so the async-local value flows into it.
    public void OnPerforming(PerformingContext context) => CurrentJobId.Value = context.BackgroundJob.Id;

    public void OnPerformed(PerformedContext context) => CurrentJobId.Value = null;
}
