using Microsoft.EntityFrameworkCore;
using SlmStudio.Core.Training;
using SlmStudio.Core.Verdicts;
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

    /// <summary>The run page's story so far, oldest first: its start (with the baseline), steps, evaluations and the
    /// engine's messages in words (such as why it stopped).</summary>
    public async Task<List<TrainingEvent>> PageEventsAsync(int runId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var events = await db.RunEvents.Where(e => e.RunId == runId && (e.Kind == "step" || e.Kind == "eval" || e.Kind == "started" || e.Kind == "message"))
            .OrderBy(e => e.Id).Select(e => e.Json).ToListAsync(ct);
        return [.. events.Select(TrainingEvent.Parse).OfType<TrainingEvent>()];
    }

    /// <summary>A "Sort and route" run's story so far, oldest first, without its many step events (the run row holds
    /// the latest step): its start, phases, evaluations, the engine's messages and how it ended.</summary>
    public async Task<List<Core.Classification.ClassificationEvent>> ClassificationEventsAsync(int runId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var events = await db.RunEvents.Where(e => e.RunId == runId && e.Kind != "step").OrderBy(e => e.Id).Select(e => e.Json).ToListAsync(ct);
        return [.. events.Select(Training.ClassificationProgress.Parse).OfType<Core.Classification.ClassificationEvent>()];
    }

    /// <summary>Run id -> the engine's message saying why it stopped early (such as "The time budget was used up at
    /// step 72 of 97"); runs without one are left out.</summary>
    public async Task<Dictionary<int, string>> StopReasonsAsync(IReadOnlyCollection<int> runIds, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var messages = await db.RunEvents.Where(e => e.Kind == "message" && runIds.Contains(e.RunId)).OrderBy(e => e.Id).Select(e => new { e.RunId, e.Json }).ToListAsync(ct);
        return messages.GroupBy(m => m.RunId).Select(g => (g.Key, Text: Components.Pages.Runs.RunProgress.StopMessage(
                g.Select(m => (TrainingEvent.Parse(m.Json) as TrainingMessage)?.Text).OfType<string>())))
            .Where(x => x.Text is not null).ToDictionary(x => x.Key, x => x.Text!);
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

    /// <summary>Version id -> its plain verdict, from what was stored when it was trained: its validation loss against
    /// the run's word-frequency baseline, its goal-test results, the size of its dataset and how often training read it.</summary>
    public async Task<Dictionary<int, ModelVerdict>> VerdictsAsync(IReadOnlyCollection<ModelVersion> versions, CancellationToken ct = default)
    {
        if (versions.Count == 0) return [];
        var runIds = versions.Select(v => v.RunId).ToList();
        var datasetIds = versions.Select(v => v.DatasetVersionId).OfType<int>().ToList();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var events = await db.RunEvents.Where(e => (e.Kind == "started" || e.Kind == "finished") && runIds.Contains(e.RunId)).OrderBy(e => e.Id)
            .Select(e => new { e.RunId, e.Json }).ToListAsync(ct);
        var characters = await db.DatasetVersions.Where(d => datasetIds.Contains(d.Id)).ToDictionaryAsync(d => d.Id, d => d.Characters, ct);
        var baseRuns = await db.Runs.Where(r => runIds.Contains(r.Id)).ToDictionaryAsync(r => r.Id, r => r.BaseVersionId, ct);
        var verdicts = new Dictionary<int, ModelVerdict>();
        foreach (var v in versions)
        {
            var parsed = events.Where(e => e.RunId == v.RunId).Select(e => TrainingEvent.Parse(e.Json)).ToList();
            var started = parsed.OfType<TrainingStarted>().LastOrDefault();
            var finished = parsed.OfType<TrainingFinished>().LastOrDefault();
            var baseline = started?.BaselineValLoss is > 0 ? started.BaselineValLoss : finished?.BaselineValLoss is > 0 ? finished.BaselineValLoss : (double?)null;
            var passes = started is { TrainTokens: > 0 } && finished is not null ? (double)finished.TokensSeen / started.TrainTokens : (double?)null;
            var goals = VersionDetails.GoalResults(v);
            // Versions from before datasets were recorded: the trainer's token count is the best measure of their text.
            var chars = v.DatasetVersionId is { } d && characters.TryGetValue(d, out var c) ? c : (started?.TrainTokens ?? 0) * 4;
            var fromBase = baseRuns.GetValueOrDefault(v.RunId) is not null || started?.BaseModel is not null;
            verdicts[v.Id] = ModelVerdict.From(new VersionMeasurements(v.ValLoss, baseline, goals.Count(g => g.Passed), goals.Count, chars, passes, fromBase));
        }
        return verdicts;
    }
}
