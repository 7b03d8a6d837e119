using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using SlmStudio.Core.Training;
using SlmStudio.Web.Data;
using SlmStudio.Web.Options;
using SlmStudio.Web.Jobs;
using SlmStudio.Web.Services;

namespace SlmStudio.Web.Tests;

/// <summary>The portal as web + worker (Hangfire servers running), stopped mid-run and started again over the same files.</summary>
public class RestartTests
{
    private static readonly Dictionary<string, string?> Both = new() { ["Studio:Role"] = "Both" };

    /// <summary>
    /// Waits until the run meets <paramref name="condition"/>: checked again on every progress notification of the run,
    /// and every few seconds for the writes that come without one (batched steps, the start-up sweep).
    /// </summary>
    private static async Task<TrainingRun> WaitForAsync(StudioTestHost host, int runId, Func<TrainingRun, bool> condition, TimeSpan timeout)
    {
        using var changed = new SemaphoreSlim(0);
        using var subscription = host.Get<RunNotifier>().Subscribe(runId, _ => { changed.Release(); return Task.CompletedTask; });
        using var giveUp = new CancellationTokenSource(timeout);
        while (true)
        {
            TrainingRun run;
            await using (var db = await host.DbAsync()) run = await db.Runs.AsNoTracking().SingleAsync(r => r.Id == runId);
            if (condition(run)) return run;
            try { await changed.WaitAsync(TimeSpan.FromSeconds(2), giveUp.Token); }
            catch (OperationCanceledException) { throw new TimeoutException($"Run {runId} is {run.Status} at step {run.Step} ({run.Error})"); }
        }
    }

    [Fact]
    public async Task A_run_interrupted_by_a_restart_resumes_from_its_checkpoint_and_is_registered_once()
    {
        int runId;
        string root;
        await using (var first = await StudioTestHost.StartAsync(Both))
        {
            first.KeepFiles = true;
            root = first.Root;
            await first.App.StartAsync();
            var project = await first.AddProjectAsync();
            var uploads = first.Get<DataUploads>();
            foreach (var file in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "SampleData", "handwritten")))
            {
                await using var stream = File.OpenRead(file);
                await uploads.SaveAsync(project.Id, Path.GetFileName(file), stream, default);
            }
            await using (var db = await first.DbAsync())
            {
                var p = await db.Projects.SingleAsync(x => x.Id == project.Id);
                (p.MaxSteps, p.EvalEvery, p.VocabSize) = (12, 3, 512);
                await db.SaveChangesAsync();
            }
            runId = await first.Get<RunScheduler>().StartAsync(project.Id, "tester");
            // Stopped only once there is a checkpoint: on a busy machine the trainer may need longer than the stop
            // grace period to save one, and a run killed before its first checkpoint cannot resume (by design).
            var runFolder = RunFolder.At(first.Get<StudioPaths>().Run(runId));
            await WaitForAsync(first, runId, r => r.Step >= 2 && runFolder.HasCheckpoint, TimeSpan.FromMinutes(8));

            await first.App.StopAsync(); // the portal shuts down while the run trains

            var stopped = await WaitForAsync(first, runId, r => r.Status != RunStatus.Running, TimeSpan.FromMinutes(1));
            Assert.Equal(RunStatus.Interrupted, stopped.Status);
            Assert.True(stopped.Step < 12);
            Assert.Null(stopped.LeaseOwner);
        }

        await using var second = await StudioTestHost.StartAsync(Both, root);
        await second.App.StartAsync(); // the start-up sweep finds the interrupted run and queues it again
        var done = await WaitForAsync(second, runId, r => r.Status is RunStatus.Succeeded or RunStatus.Failed, TimeSpan.FromMinutes(10));
        Assert.True(done.Status == RunStatus.Succeeded, done.Error);
        Assert.Equal(12, done.Step);

        await using var check = await second.DbAsync();
        var starts = (await check.RunEvents.Where(e => e.RunId == runId && e.Kind == "started").OrderBy(e => e.Id).Select(e => e.Json).ToListAsync())
            .Select(j => JsonDocument.Parse(j).RootElement.GetProperty("startStep").GetInt32()).ToList();
        Assert.Equal(2, starts.Count);
        Assert.True(starts[1] > 0, "resumed from the checkpoint");
        Assert.Equal(1, await check.ModelVersions.CountAsync());
        await second.App.StopAsync();
    }
}
