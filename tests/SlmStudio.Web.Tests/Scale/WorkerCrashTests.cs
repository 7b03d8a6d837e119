using System.Diagnostics;
using Microsoft.EntityFrameworkCore;
using SlmStudio.Core.Training;
using SlmStudio.Web.Data;
using SlmStudio.Web.Jobs;
using SlmStudio.Web.Options;
using Xunit.Abstractions;

namespace SlmStudio.Web.Tests.Scale;

/// <summary>
/// Issue 16: a portal (this test's host) and two worker processes on one PostgreSQL database and one shared folder, as
/// on several machines with a network file system. A worker is killed with SIGKILL in the middle of a training.
/// </summary>
public class WorkerCrashTests(ITestOutputHelper output)
{
    private const int Steps = 20;
    private const int CheckpointEvery = 5;

    [PostgresFact]
    public async Task A_worker_killed_mid_run_leaves_the_run_to_the_other_worker_which_resumes_it_once_with_the_same_result()
    {
        var clock = Stopwatch.StartNew();
        await using var database = await PostgresTestDatabase.CreateAsync();
        var settings = database.Settings(new()
        {
            // A dead worker's job is handed out again after this long (the sliding timeout keeps a live one's), and its
            // run's lease runs out after that long. Short for the test, yet long enough that a live worker on a busy
            // machine (a shared CI runner) keeps both: a lapse would look like a dead worker.
            ["Studio:Database:JobInvisibilityTimeoutSeconds"] = "15",
            ["Studio:HeartbeatSeconds"] = "2",
            ["Studio:LeaseTimeoutSeconds"] = "30",
            ["Studio:MinimumTrainingCharacters"] = "2000",
            ["Studio:Queues:Gpu"] = "No",
        });
        // The portal: web role, no Hangfire server; it migrates the database before the workers start.
        await using var portal = await StudioTestHost.StartAsync(settings);
        await portal.App.StartAsync();
        var paths = portal.Get<StudioPaths>();
        var workerSettings = new Dictionary<string, string?>(settings)
        {
            ["Studio:Role"] = "Worker",
            ["Studio:TrainingWorkers"] = "1",
            ["Urls"] = "http://127.0.0.1:0",
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:SlmStudio"] = "Information",
        };
        await using var first = StudioProcess.Start(portal.Root, workerSettings);
        await using var second = StudioProcess.Start(portal.Root, workerSettings);
        var workers = new[] { first, second };
        string Logs() => string.Join("\n", workers.Select((w, i) => $"--- worker {i + 1} (process {w.ProcessId}{(w.HasExited ? ", exited" : "")}) ---\n{w.Output}"));

        // Both workers serve the training queue before any run is queued, so each takes one of the two runs.
        await WaitUntilAsync(async () => await database.ScalarAsync<long>("SELECT count(*) FROM hangfire.server WHERE data::text LIKE '%cpu%'") >= 2,
            TimeSpan.FromMinutes(3), () => "both workers to register with Hangfire\n" + Logs());

        var scheduler = portal.Get<RunScheduler>();
        var reference = await scheduler.StartAsync(await ScaleTestKit.AddTextProjectAsync(portal, "Uninterrupted", Steps, CheckpointEvery), "tester");
        var crashed = await scheduler.StartAsync(await ScaleTestKit.AddTextProjectAsync(portal, "Crashed worker", Steps, CheckpointEvery), "tester");

        // Killed once its first checkpoint is on the shared disk, well before the end.
        var folder = RunFolder.At(paths.Run(crashed));
        var running = await ScaleTestKit.WaitForRunAsync(portal, crashed,
            r => r.Status == RunStatus.Running && r.LeaseOwner is not null && r.Step >= CheckpointEvery && folder.HasCheckpoint,
            TimeSpan.FromMinutes(10), Logs);
        Assert.True(running.Step < Steps, $"the run finished (step {running.Step}) before it could be interrupted");
        var victim = workers.Single(w => running.LeaseOwner!.Split(':')[1] == w.ProcessId.ToString());
        var survivor = workers.Single(w => w != victim);
        output.WriteLine($"{clock.Elapsed}: killing worker process {victim.ProcessId} at step {running.Step} of run {crashed}");
        await victim.KillHardAsync();

        var done = await ScaleTestKit.WaitForRunAsync(portal, crashed, r => r.Status is RunStatus.Succeeded or RunStatus.Failed, TimeSpan.FromMinutes(15), Logs);
        Assert.True(done.Status == RunStatus.Succeeded, $"{done.Error}\n{Logs()}");
        var uninterrupted = await ScaleTestKit.WaitForRunAsync(portal, reference, r => r.Status is RunStatus.Succeeded or RunStatus.Failed, TimeSpan.FromMinutes(10), Logs);
        Assert.True(uninterrupted.Status == RunStatus.Succeeded, uninterrupted.Error);
        output.WriteLine($"{clock.Elapsed}: both runs done; val loss {done.ValLoss} (crashed) vs {uninterrupted.ValLoss} (uninterrupted)");

        // The surviving worker resumed it from the checkpoint: two starts, the second past step 0, and it was the one
        // that started the resumed trainer.
        var starts = await ScaleTestKit.StartStepsAsync(portal, crashed);
        Assert.Equal(2, starts.Count);
        Assert.Equal(0, starts[0]);
        Assert.True(starts[1] > 0, "resumed from the checkpoint");
        Assert.Contains($"Run {crashed} starts slm", survivor.Output);
        Assert.Equal(Steps, done.Step);

        await using (var db = await portal.DbAsync())
        {
            // One result and one registered version, however many jobs the crash left queued.
            Assert.Equal(1, await db.RunEvents.CountAsync(e => e.RunId == crashed && e.Kind == "finished"));
            Assert.Equal(1, await db.ModelVersions.CountAsync(v => v.RunId == crashed));
            Assert.Equal(1, await db.ModelVersions.CountAsync(v => v.RunId == reference));
        }
        Assert.NotNull(done.ValLoss);
        Assert.NotNull(uninterrupted.ValLoss);
        var difference = Math.Abs(done.ValLoss!.Value - uninterrupted.ValLoss!.Value) / uninterrupted.ValLoss.Value;
        Assert.True(difference <= 0.02, $"validation loss {done.ValLoss} after the crash vs {uninterrupted.ValLoss} without: {difference:P1} apart");
        output.WriteLine($"{clock.Elapsed}: done ({difference:P2} apart)");
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, Func<string> what)
    {
        using var giveUp = new CancellationTokenSource(timeout);
        using var tick = new PeriodicTimer(TimeSpan.FromMilliseconds(250));
        while (!await condition())
        {
            try { await tick.WaitForNextTickAsync(giveUp.Token); }
            catch (OperationCanceledException) { throw new TimeoutException($"Gave up waiting for {what()}"); }
        }
    }
}
