using Microsoft.EntityFrameworkCore;
using SlmStudio.Core.Training;
using SlmStudio.Web.Data;
using SlmStudio.Web.Jobs;
using SlmStudio.Web.Services;

namespace SlmStudio.Web.Training;

/// <summary>
/// Writes one run's life to the database and tells open pages: its start, every trainer event with the latest figures
/// (<see cref="RunProgress.Apply"/>), and how it ended. Step events are batched so the database keeps up.
/// While a PostgreSQL server is briefly unreachable (a restart, a fail-over) events wait in memory and the training goes
/// on; they are written once it is back, so none is lost. An outage longer than <see cref="DatabaseOutage.Tolerance"/>
/// fails the write, and with it the job (the run then resumes from its checkpoint).
/// </summary>
public sealed class RunProgressWriter(IDbContextFactory<StudioDbContext> dbFactory, RunNotifier notifier, TimeProvider clock, int runId,
    ILogger? logger = null)
{
    private static readonly TimeSpan StepBatch = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan RetryPause = TimeSpan.FromSeconds(1);
    private readonly List<(string Kind, string Json, Action<TrainingRun> Apply)> _pending = [];
    private DateTimeOffset _lastFlush = DateTimeOffset.MinValue;
    private DateTimeOffset? _unreachableSince;

    public int RunId => runId;

    /// <summary>Marks the run running (one more attempt, no error) and returns it with its project.</summary>
    public async Task<TrainingRun> StartAsync()
    {
        await using var db = await dbFactory.CreateDbContextAsync(CancellationToken.None);
        var run = await db.Runs.Include(r => r.Project).SingleAsync(r => r.Id == runId, CancellationToken.None);
        run.Status = RunStatus.Running;
        run.StartedAt ??= clock.GetUtcNow();
        run.Attempts++;
        run.Error = null;
        await db.SaveChangesAsync(CancellationToken.None);
        Reload();
        return run;
    }

    /// <summary>Asks open pages to reload the run (for example once its dataset version was frozen).</summary>
    public void Reload() => notifier.Publish(new RunUpdate(runId, null, RunStatus.Running));

    public async Task WriteAsync(TrainingEvent e, string json)
    {
        _pending.Add((e.Kind, json, run => run.Apply(e)));
        notifier.Publish(new RunUpdate(runId, e));
        if (e is not TrainingStep || clock.GetUtcNow() - _lastFlush > StepBatch) await TryFlushAsync();
    }

    /// <summary>
    /// An event of a "Sort and route" run. Open pages reload the run after each write to the database (at most once a
    /// second for steps) rather than get the event itself: their live path knows only text runs' events.
    /// </summary>
    public async Task WriteAsync(Core.Classification.ClassificationEvent e, string json)
    {
        _pending.Add((ClassificationProgress.Kind(e), json, run => run.Apply(e)));
        if (e is Core.Classification.ClassificationStepEvent && clock.GetUtcNow() - _lastFlush <= StepBatch) return;
        if (await TryFlushAsync()) notifier.Publish(new RunUpdate(runId, null, RunStatus.Running));
    }

    /// <summary>Writes what is pending; while the database is unreachable, retries until it is back or the outage
    /// outlasts <see cref="DatabaseOutage.Tolerance"/>.</summary>
    public async Task FlushAsync()
    {
        while (!await TryFlushAsync()) await Task.Delay(RetryPause, clock);
    }

    /// <summary>False when the database could not be reached: the events stay pending for the next write.</summary>
    private async Task<bool> TryFlushAsync()
    {
        try
        {
            await WritePendingAsync();
            if (_unreachableSince is not null) logger?.LogInformation("Run {RunId}: the database is back; progress is written again", runId);
            _unreachableSince = null;
            return true;
        }
        catch (Exception e) when (DatabaseOutage.IsTransient(e))
        {
            var now = clock.GetUtcNow();
            _unreachableSince ??= now;
            // The next step event tries again, not every one in between.
            _lastFlush = now;
            if (now - _unreachableSince > DatabaseOutage.Tolerance)
                throw new UserFacingException($"The database could not be reached for over {DatabaseOutage.Tolerance.TotalMinutes:0} minutes while this run was training, so its progress could not be saved. The run continues from its last checkpoint once the database is back.");
            if (_pending.Count > 0 && now == _unreachableSince)
                logger?.LogWarning(e, "Run {RunId}: the database cannot be reached; training goes on and its progress is kept until it is back", runId);
            return false;
        }
    }

    private async Task WritePendingAsync()
    {
        if (_pending.Count == 0) return;
        _lastFlush = clock.GetUtcNow();
        await using var db = await dbFactory.CreateDbContextAsync();
        var run = await db.Runs.SingleAsync(r => r.Id == runId);
        foreach (var (kind, json, apply) in _pending)
        {
            db.RunEvents.Add(new RunEvent { RunId = runId, Kind = kind, Json = json, At = _lastFlush });
            apply(run);
        }
        _pending.Clear();
        await db.SaveChangesAsync();
    }

    /// <summary>Writes how the run ended; the final figures come from the trainer's last event when it finished.</summary>
    public async Task FinishAsync(RunStatus status, string? error, TrainingFinished? finished = null)
    {
        var since = clock.GetUtcNow();
        while (true)
        {
            try
            {
                await WriteFinishAsync(status, error, finished);
                return;
            }
            catch (Exception e) when (DatabaseOutage.IsTransient(e) && clock.GetUtcNow() - since < DatabaseOutage.Tolerance)
            {
                logger?.LogWarning(e, "Run {RunId}: the database cannot be reached to record that it is {Status}; trying again", runId, status);
                await Task.Delay(RetryPause, clock);
            }
        }
    }

    private async Task WriteFinishAsync(RunStatus status, string? error, TrainingFinished? finished)
    {
        await using var db = await dbFactory.CreateDbContextAsync();
        var run = await db.Runs.SingleAsync(r => r.Id == runId);
        run.Status = status;
        run.Error = error;
        run.CancelRequested = false;
        if (status is RunStatus.Failed or RunStatus.Cancelled or RunStatus.Trained) run.FinishedAt = clock.GetUtcNow();
        if (finished is not null)
        {
            run.ValLoss = finished.BestValLoss;
            run.Perplexity = finished.Perplexity;
            run.BitsPerChar = finished.BitsPerChar;
            run.Step = finished.Step;
            run.EtaSeconds = 0;
        }
        await db.SaveChangesAsync();
        notifier.Publish(new RunUpdate(runId, null, status));
    }
}
