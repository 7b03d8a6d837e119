using Microsoft.EntityFrameworkCore;
using SlmStudio.Core.Training;
using SlmStudio.Web.Data;
using SlmStudio.Web.Security;

namespace SlmStudio.Web.Services;

/// <summary>Training runs as the pages show them: lists, one run with its curves, and the baselines they measured.
/// Starting, cancelling and resuming runs is <see cref="Jobs.RunScheduler"/>'s work.</summary>
public sealed class RunService(IDbContextFactory<StudioDbContext> dbFactory)
{
    /// <summary>The latest runs of every project, newest first, with their project.</summary>
    public async Task<List<TrainingRun>> RecentAsync(int count = 200, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.Runs.Where(r => db.VisibleProjects().Any(p => p.Id == r.ProjectId)).Include(r => r.Project).OrderByDescending(r => r.Id).Take(count).ToListAsync(ct);
    }

    /// <summary>The project's runs, newest first.</summary>
    public async Task<List<TrainingRun>> OfProjectAsync(int projectId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.Runs.Where(r => r.ProjectId == projectId && db.VisibleProjects().Any(p => p.Id == r.ProjectId)).OrderByDescending(r => r.Id).ToListAsync(ct);
    }

    /// <summary>The run with its project and dataset version; null when it does not exist.</summary>
    public async Task<TrainingRun?> FindAsync(int runId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.Runs.Where(r => db.VisibleProjects().Any(p => p.Id == r.ProjectId)).Include(r => r.Project).Include(r => r.DatasetVersion).SingleOrDefaultAsync(r => r.Id == runId, ct);
    }

    /// <summary>The run's training steps and evaluations so far, oldest first: what its loss curves are drawn from.</summary>
    public async Task<List<TrainingEvent>> CurveEventsAsync(int runId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var events = await db.RunEvents.Where(e => e.RunId == runId && (e.Kind == "step" || e.Kind == "eval")).OrderBy(e => e.Id).Select(e => e.Json).ToListAsync(ct);
        return [.. events.Select(TrainingEvent.Parse).OfType<TrainingEvent>()];
    }

    /// <summary>Run id -> the validation loss of the word-frequency baseline the trainer measured when the run started
    /// (runs that recorded none are left out).</summary>
    public async Task<Dictionary<int, double>> BaselineValLossesAsync(IReadOnlyCollection<int> runIds, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var started = await db.RunEvents.Where(e => e.Kind == "started" && runIds.Contains(e.RunId)).OrderBy(e => e.Id).ToListAsync(ct);
        return started.Select(e => (e.RunId, Baseline: (TrainingEvent.Parse(e.Json) as TrainingStarted)?.BaselineValLoss))
            .Where(b => b.Baseline is > 0).GroupBy(b => b.RunId).ToDictionary(g => g.Key, g => g.Last().Baseline!.Value);
    }
}
