using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using SlmStudio.Web.Data;
using SlmStudio.Web.Options;

namespace SlmStudio.Web.Jobs;

/// <summary>
/// Our own lease on a run, because Hangfire.Storage.SQLite hands a job out again once it runs past its invisibility
/// timeout. Only the holder of an unexpired lease may execute a run; the holder renews it with a heartbeat.
/// </summary>
public sealed class RunLeases(IDbContextFactory<StudioDbContext> dbFactory, IOptions<StudioOptions> options, TimeProvider clock, ILogger<RunLeases> logger)
{
    /// <summary>Identifies this process: machine, process id and a per-start random part.</summary>
    public static readonly string InstanceId = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid().ToString("N")[..8]}";

    private TimeSpan Timeout => TimeSpan.FromSeconds(options.Value.LeaseTimeoutSeconds);

    /// <summary>Takes the run if it is waiting, or if its previous holder's lease ran out. Atomic in the database.</summary>
    public async Task<bool> TryAcquireAsync(int runId, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var now = clock.GetUtcNow();
        var expires = now + Timeout;
        var taken = await db.Runs
            .Where(r => r.Id == runId
                && (r.Status == RunStatus.Queued || r.Status == RunStatus.Interrupted || r.Status == RunStatus.Running)
                && (r.LeaseOwner == null || r.LeaseExpiresAt < now))
            .ExecuteUpdateAsync(s => s
                .SetProperty(r => r.LeaseOwner, InstanceId)
                .SetProperty(r => r.LeaseExpiresAt, expires), ct);
        return taken == 1;
    }

    /// <summary>Extends the lease; false when it was lost (another worker took the run after our lease ran out).</summary>
    public async Task<bool> RenewAsync(int runId, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var expires = clock.GetUtcNow() + Timeout;
        return await db.Runs.Where(r => r.Id == runId && r.LeaseOwner == InstanceId)
            .ExecuteUpdateAsync(s => s.SetProperty(r => r.LeaseExpiresAt, expires), ct) == 1;
    }

    public async Task ReleaseAsync(int runId)
    {
        try
        {
            await using var db = await dbFactory.CreateDbContextAsync();
            await db.Runs.Where(r => r.Id == runId && r.LeaseOwner == InstanceId)
                .ExecuteUpdateAsync(s => s.SetProperty(r => r.LeaseOwner, (string?)null).SetProperty(r => r.LeaseExpiresAt, (DateTimeOffset?)null));
        }
        catch (Exception e) when (DatabaseOutage.IsTransient(e))
        {
            // Not releasing costs only time: the lease runs out by itself and the sweep takes over from there.
            logger.LogWarning(e, "Run {RunId}: the database could not be reached to release its lease; it runs out by itself", runId);
        }
    }

    /// <summary>
    /// Renews the lease every heartbeat until <paramref name="stop"/>; calls <paramref name="onLeaseLost"/> (and
    /// returns) when another worker took the run, and <paramref name="onCancelRequested"/> once when a user asked to
    /// cancel it from any machine.
    /// </summary>
    public async Task KeepAliveAsync(int runId, Action onCancelRequested, Action onLeaseLost, CancellationToken stop)
    {
        var period = TimeSpan.FromSeconds(options.Value.HeartbeatSeconds);
        var asked = false;
        try
        {
            DateTimeOffset? unreachableSince = null;
            while (!stop.IsCancellationRequested)
            {
                await Task.Delay(period, clock, stop);
                try
                {
                    if (!await RenewAsync(runId, stop))
                    {
                        onLeaseLost();
                        return;
                    }
                    if (unreachableSince is not null) logger.LogInformation("Run {RunId}: the database is back; its lease is renewed again", runId);
                    unreachableSince = null;
                    if (asked) continue;
                    await using var db = await dbFactory.CreateDbContextAsync(stop);
                    if (await db.Runs.AnyAsync(r => r.Id == runId && r.CancelRequested, stop))
                    {
                        asked = true;
                        onCancelRequested();
                    }
                }
                catch (Exception e) when (DatabaseOutage.IsTransient(e) && !stop.IsCancellationRequested)
                {
                    // A database restart must not stop a training. Should the outage outlast the lease, another worker
                    // may take the run once the database is back; the next renewal then finds the lease gone and stops
                    // this copy, so the run still never trains twice.
                    if (unreachableSince is null) logger.LogWarning(e, "Run {RunId}: the database cannot be reached to renew its lease; training goes on and the renewal is retried", runId);
                    unreachableSince ??= clock.GetUtcNow();
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested) { }
    }

    /// <summary>True when a lease belongs to an earlier process on this same machine, which cannot be alive any more
    /// if its process id is gone.</summary>
    public static bool IsDeadLocalOwner(string? owner)
    {
        if (owner is null || owner == InstanceId) return false;
        var parts = owner.Split(':');
        if (parts.Length < 2 || parts[0] != Environment.MachineName || !int.TryParse(parts[1], out var pid)) return false;
        if (pid == Environment.ProcessId) return true;
        try { using var p = System.Diagnostics.Process.GetProcessById(pid); return p.HasExited; }
        catch (ArgumentException) { return true; }
    }
}
