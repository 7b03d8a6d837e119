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
            if (run.Status is RunStatus.Trained or RunStatus.Exporting)
            {
                // Export and registration died with the previous process; only at start-up can we know nobody runs them.
                if (!startup) continue;
                run.Status = RunStatus.Trained;
                await db.SaveChangesAsync(ct);
                await scheduler.EnqueueAsync(run.Id, ct);
                handled++;
                continue;
            }
            if (run.Status == RunStatus.Running && run.LeaseOwner is null && run.StartedAt is { } s
                && now - s < TimeSpan.FromSeconds(options.Value.LeaseTimeoutSeconds))
                continue;
            if (RunFolder.At(paths.Run(run.Id)).HasCheckpoint)
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
