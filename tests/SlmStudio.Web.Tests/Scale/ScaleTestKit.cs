using Microsoft.EntityFrameworkCore;
using SlmStudio.Web.Data;
using SlmStudio.Web.Services;

namespace SlmStudio.Web.Tests.Scale;

/// <summary>What the fault tests share: a small text project, and waiting on a run's progress.</summary>
public static class ScaleTestKit
{
    /// <summary>A text project over the handwritten sample files, trained for <paramref name="steps"/> steps of the tiny
    /// preset with a checkpoint every <paramref name="evalEvery"/> steps and a fixed seed.</summary>
    public static async Task<int> AddTextProjectAsync(StudioTestHost host, string name, int steps, int evalEvery, int seed = 7)
    {
        var project = await host.AddProjectAsync(name);
        var uploads = host.Get<DataUploads>();
        foreach (var file in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "SampleData", "handwritten")).Order())
        {
            await using var stream = File.OpenRead(file);
            await uploads.SaveAsync(project.Id, Path.GetFileName(file), stream, default);
        }
        await using var db = await host.DbAsync();
        var p = await db.Projects.SingleAsync(x => x.Id == project.Id);
        (p.Preset, p.MaxSteps, p.EvalEvery, p.VocabSize, p.Seed) = ("tiny", steps, evalEvery, 512, seed);
        await db.SaveChangesAsync();
        return project.Id;
    }

    public static async Task<TrainingRun> RunAsync(StudioTestHost host, int runId)
    {
        await using var db = await host.DbAsync();
        return await db.Runs.AsNoTracking().SingleAsync(r => r.Id == runId);
    }

    /// <summary>
    /// Waits until the run meets <paramref name="condition"/>, checked again on every update the run notifier hears
    /// (pushed from the worker processes over PostgreSQL): a training run sends one per step, so a batched step or a
    /// checkpoint that reached the database after one update is seen at the next. <paramref name="diagnostics"/> goes
    /// into the timeout's message.
    /// </summary>
    public static async Task<TrainingRun> WaitForRunAsync(StudioTestHost host, int runId, Func<TrainingRun, bool> condition, TimeSpan timeout,
        Func<string>? diagnostics = null)
    {
        using var changed = new SemaphoreSlim(0);
        using var subscription = host.Get<RunNotifier>().Subscribe(runId, _ => { changed.Release(); return Task.CompletedTask; });
        using var giveUp = new CancellationTokenSource(timeout);
        TrainingRun? run = null;
        while (true)
        {
            // A PostgreSQL restart also cuts this test's own pooled connections: read again at the next tick.
            try { run = await RunAsync(host, runId); }
            catch (Exception e) when (SlmStudio.Web.Jobs.DatabaseOutage.IsTransient(e)) { }
            if (run is not null && condition(run)) return run;
            try { await changed.WaitAsync(giveUp.Token); }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"Run {runId} is {run?.Status} at step {run?.Step} ({run?.Error}) after {timeout}.\n{diagnostics?.Invoke()}");
            }
        }
    }

    /// <summary>The start step of each time the trainer started, from the run's events in the database.</summary>
    public static async Task<List<int>> StartStepsAsync(StudioTestHost host, int runId)
    {
        await using var db = await host.DbAsync();
        return (await db.RunEvents.Where(e => e.RunId == runId && e.Kind == "started").OrderBy(e => e.Id).Select(e => e.Json).ToListAsync())
            .Select(j => System.Text.Json.JsonDocument.Parse(j).RootElement.GetProperty("startStep").GetInt32()).ToList();
    }
}
