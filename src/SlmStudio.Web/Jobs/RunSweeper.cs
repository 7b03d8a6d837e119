using SlmStudio.Core.Training;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using SlmStudio.Web.Data;
using SlmStudio.Web.Options;

namespace SlmStudio.Web.Jobs;

/// <summary>
/// At start-up and then periodically, finds runs whose worker died (status Running with a stale lease, or
/// Interrupted by a shutdown) and resumes them from their checkpoint, or fails them clearly when there is none.
/// Nothing stays "running" forever.
/// </summary>
public sealed class RunSweeper(IDbContextFactory<StudioDbContext> dbFactory, RunScheduler scheduler, StudioPaths paths,
    IOptions<StudioOptions> options, TimeProvider clock, ILogger<RunSweeper> logger) : BackgroundService
{
    public async Task<int> SweepAsync(bool startup, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var now = clock.GetUtcNow();
        var candidates = await db.Runs
            .Where(r => r.Status == RunStatus.Interrupted || r.Status == RunStatus.Running
                || r.Status == RunStatus.Trained || r.Status == RunStatus.Exporting)
            .ToListAsync(ct);
        var handled = 0;
        foreach (var run in candidates)
        {
            var leaseLive = run.LeaseOwner is not null && run.LeaseExpiresAt >= now && !RunLeases.IsDeadLocalOwner(run.LeaseOwner);
            if (leaseLive) continue;
            var folder = RunFolder.At(paths.Run(run.Id));
            if (run.Status is RunStatus.Trained or RunStatus.Exporting)
            {
                // Export and registration died with the previous process, unless someone holds the run's export lease
                // (another portal over the same folders). The status stays: a finished export is registered, not redone.
                if (!startup || folder.IsExportRunning) continue;
                await scheduler.EnqueueAsync(run.Id, ct);
                handled++;
                continue;
            }
            if (folder.IsTrainerRunning)
            {
                // A live trainer (one an earlier portal process left behind) still works on the folder: it is left to
                // finish its step and checkpoint, and the run is resumed by a later sweep once it has stopped.
                logger.LogWarning("Run {RunId}: a trainer process still works on its folder; resuming it once that one has stopped", run.Id);
                continue;
            }
            if (run.Status == RunStatus.Running && run.LeaseOwner is null && run.StartedAt is { } s
                && now - s < TimeSpan.FromSeconds(options.Value.LeaseTimeoutSeconds))
                continue;
            if (folder.HasCheckpoint)
            {
                logger.LogWarning("Run {RunId} was interrupted; resuming it from its last checkpoint", run.Id);
                run.Status = RunStatus.Queued;
                run.LeaseOwner = null;
                run.LeaseExpiresAt = null;
                await db.SaveChangesAsync(ct);
                await scheduler.EnqueueAsync(run.Id, ct);
            }
            else
            {
                logger.LogWarning("Run {RunId} was interrupted before its first checkpoint; marking it failed", run.Id);
                run.Status = RunStatus.Failed;
                run.Error = "The server stopped before this run had saved any progress. Start the training again.";
                run.FinishedAt = now;
                run.LeaseOwner = null;
                run.LeaseExpiresAt = null;
                await db.SaveChangesAsync(ct);
            }
            handled++;
        }
        return handled;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var period = TimeSpan.FromSeconds(Math.Max(5, options.Value.LeaseTimeoutSeconds / 2));
        var startup = true;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var n = await SweepAsync(startup, stoppingToken);
                startup = false;
                if (n > 0) logger.LogInformation("Sweep handled {Count} interrupted runs", n);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogError(e, "The run sweep failed; it will try again");
            }
            try { await Task.Delay(period, clock, stoppingToken); } catch (OperationCanceledException) { }
        }
    }
}
