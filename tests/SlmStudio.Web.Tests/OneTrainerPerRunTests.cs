using System.Text.Json;
using Hangfire;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using SlmStudio.Core.Processes;
using SlmStudio.Core.Training;
using SlmStudio.Web.Data;
using SlmStudio.Web.Jobs;
using SlmStudio.Web.Options;
using SlmStudio.Web.Services;

namespace SlmStudio.Web.Tests;

/// <summary>
/// Issue 14 in the portal: a run folder a live trainer holds is left to it, export has its own lease, and a trainer
/// killed from outside is resumed rather than failed. The locks are the real OS locks the engine takes, held here by
/// the test in place of an orphaned trainer or another portal's exporter.
/// </summary>
public class OneTrainerPerRunTests
{
    private static async Task<int> AddRunAsync(StudioTestHost host, RunStatus status, string? owner = null)
    {
        var project = await host.AddProjectAsync();
        await using var db = await host.DbAsync();
        var run = new TrainingRun
        {
            ProjectId = project.Id, Status = status, CreatedAt = DateTimeOffset.UtcNow, StartedAt = DateTimeOffset.UtcNow.AddMinutes(-10),
            LeaseOwner = owner, LeaseExpiresAt = owner is null ? null : DateTimeOffset.UtcNow.AddMinutes(1), Preset = "tiny",
        };
        db.Runs.Add(run);
        await db.SaveChangesAsync();
        return run.Id;
    }

    private static async Task<TrainingRun> RunAsync(StudioTestHost host, int runId)
    {
        await using var db = await host.DbAsync();
        return await db.Runs.AsNoTracking().SingleAsync(r => r.Id == runId);
    }

    [Fact]
    public async Task A_run_whose_folder_a_live_trainer_holds_is_left_to_it_and_resumed_once_it_stopped()
    {
        await using var host = await StudioTestHost.StartAsync();
        // The portal was killed with kill -9: its lease names a dead process of this machine, its trainer lives on.
        var runId = await AddRunAsync(host, RunStatus.Running, $"{Environment.MachineName}:{int.MaxValue - 11}:dead");
        var folder = RunFolder.At(host.Get<StudioPaths>().Run(runId));
        Directory.CreateDirectory(folder.CheckpointDirectory);
        var sweeper = host.Get<RunSweeper>();
        var storage = host.Get<JobStorage>();

        using (var orphan = folder.LockForTrainer())
        {
            Assert.Equal(0, await sweeper.SweepAsync(startup: true, default));
            Assert.Equal(RunStatus.Running, (await RunAsync(host, runId)).Status);
            Assert.Equal(0, storage.GetMonitoringApi().EnqueuedCount(TrainingQueues.Cpu));

            // A training job that gets the run anyway (an earlier queue entry) starts no second trainer.
            await using (var db = await host.DbAsync())
                await db.Runs.Where(r => r.Id == runId).ExecuteUpdateAsync(s => s.SetProperty(r => r.Status, RunStatus.Queued).SetProperty(r => r.LeaseOwner, (string?)null));
            await host.Get<TrainingJob>().RunAsync(runId, default);
            var left = await RunAsync(host, runId);
            Assert.Equal(RunStatus.Interrupted, left.Status);
            Assert.Equal(0, left.Attempts);
            Assert.Null(left.LeaseOwner);
            await using (var db = await host.DbAsync())
                Assert.Equal(0, await db.RunEvents.CountAsync(e => e.RunId == runId));
            Assert.Equal(0, await sweeper.SweepAsync(startup: false, default)); // still held: still left alone
        }

        // The orphan stopped (its lock went with it): now the run is resumed, once.
        Assert.Equal(1, await sweeper.SweepAsync(startup: false, default));
        Assert.Equal(RunStatus.Queued, (await RunAsync(host, runId)).Status);
        Assert.Equal(1, storage.GetMonitoringApi().EnqueuedCount(TrainingQueues.Cpu));
    }

    [Fact]
    public async Task Export_has_its_own_lease_so_a_second_portal_neither_requeues_nor_redoes_it()
    {
        await using var host = await StudioTestHost.StartAsync();
        var runId = await AddRunAsync(host, RunStatus.Exporting);
        var folder = RunFolder.At(host.Get<StudioPaths>().Run(runId));
        Directory.CreateDirectory(folder.Root);
        var sweeper = host.Get<RunSweeper>();
        var export = host.Get<ExportJob>();

        // Another portal over the same folders is exporting the run: its start-up sweep and a second export job keep out.
        using (var otherPortal = folder.TryLockExport())
        {
            Assert.NotNull(otherPortal);
            Assert.True(folder.IsExportRunning);
            Assert.Equal(0, await sweeper.SweepAsync(startup: true, default));
            Assert.Equal(ExportOutcome.LeftToAnother, await export.ExportAsync(runId, default));
            // Meanwhile the other portal's export completes: the exporter moves a finished folder into place.
            Directory.CreateDirectory(folder.ExportDirectory);
            File.WriteAllText(Path.Combine(folder.ExportDirectory, Core.Artifacts.ArtifactManifest.FileName), "{}");
            // Registration waits its turn too: nothing is registered while the other portal holds the run.
            await host.Get<RegisterJob>().RunAsync(runId, default);
            await using (var db = await host.DbAsync()) Assert.Equal(0, await db.ModelVersions.CountAsync());
        }
        Assert.Equal(RunStatus.Exporting, (await RunAsync(host, runId)).Status);

        // The exporter died before registering: a start-up sweep queues the chain again, and the finished export is
        // registered as it is, not deleted and redone.
        Assert.Equal(1, await sweeper.SweepAsync(startup: true, default));
        Assert.Equal(RunStatus.Exporting, (await RunAsync(host, runId)).Status);
        Assert.Equal(ExportOutcome.AlreadyExported, await export.ExportAsync(runId, default));
        Assert.True(File.Exists(Path.Combine(folder.ExportDirectory, Core.Artifacts.ArtifactManifest.FileName)));
        Assert.False(folder.IsExportRunning);
    }

    [Fact]
    public void A_trainer_killed_from_outside_with_a_checkpoint_is_resumed_not_failed()
    {
        var killed = new EngineExit(137, "", EndReason.None);
        var (status, message) = TrainingJob.Outcome(killed, null, null, RunStatus.Cancelled, false, hasCheckpoint: true, attempts: 1);
        Assert.Equal(RunStatus.Interrupted, status);
        Assert.Contains("killed from outside (SIGKILL)", message);
        Assert.Contains("continues from its last checkpoint", message);

        // Not for ever: after a few starts it fails, and says the checkpoint is kept.
        (status, message) = TrainingJob.Outcome(killed, null, null, RunStatus.Cancelled, false, hasCheckpoint: true, attempts: TrainingJob.MaxAutomaticAttempts);
        Assert.Equal(RunStatus.Failed, status);
        Assert.Contains("Its last checkpoint is kept", message);

        // An abort is a crash: failed at once, with the error line, and no guess about memory.
        (status, message) = TrainingJob.Outcome(new EngineExit(134, "Unhandled exception. System.InvalidOperationException: boom\n   at X", EndReason.None), null, null,
            RunStatus.Cancelled, false, hasCheckpoint: true, attempts: 1);
        Assert.Equal(RunStatus.Failed, status);
        Assert.Contains("aborted (SIGABRT)", message);
        Assert.Contains("System.InvalidOperationException: boom", message);
        Assert.DoesNotContain("memory", message);

        // Killed by the portal itself after a stop request it did not answer in time: what was asked, not a failure.
        Assert.Equal((RunStatus.Cancelled, null), TrainingJob.Outcome(new EngineExit(137, "", EndReason.Killed), null, null, RunStatus.Cancelled, false, true, 1));
        Assert.DoesNotContain("from outside", new EngineExit(137, "", EndReason.Killed).Describe("The training process"));

        // Refused because another trainer holds the folder: left to that one.
        Assert.Equal((RunStatus.Interrupted, null), TrainingJob.Outcome(new EngineExit(SlmLauncher.RunFolderBusyExitCode, "error: busy", EndReason.None), null,
            new TrainingError("busy"), RunStatus.Cancelled, false));
    }

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string what)
    {
        using var giveUp = new CancellationTokenSource(timeout);
        using var tick = new PeriodicTimer(TimeSpan.FromMilliseconds(200));
        while (!condition())
        {
            try { await tick.WaitForNextTickAsync(giveUp.Token); }
            catch (OperationCanceledException) { throw new TimeoutException($"Gave up waiting for {what}."); }
        }
    }

    /// <summary>
    /// The database locked for longer than its 30-second timeout while a run trains: the training job fails, and its
    /// trainer must die with it (it used to keep training, and the sweep then started a second one). The run is then
    /// resumed by exactly one trainer, from the checkpoint.
    /// </summary>
    [Fact]
    public async Task A_training_job_that_fails_takes_its_trainer_with_it_and_the_run_resumes_with_one_trainer()
    {
        await using var host = await StudioTestHost.StartAsync();
        var project = await host.AddProjectAsync();
        var uploads = host.Get<DataUploads>();
        foreach (var file in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "SampleData", "handwritten")).Order())
        {
            await using var stream = File.OpenRead(file);
            await uploads.SaveAsync(project.Id, Path.GetFileName(file), stream, default);
        }
        await using (var db = await host.DbAsync())
        {
            var p = await db.Projects.SingleAsync(x => x.Id == project.Id);
            (p.MaxSteps, p.EvalEvery, p.VocabSize) = (5000, 2, 512); // far longer than the test: it only ends when stopped
            await db.SaveChangesAsync();
        }
        var scheduler = host.Get<RunScheduler>();
        var runId = await scheduler.StartAsync(project.Id, "tester");
        var folder = RunFolder.At(host.Get<StudioPaths>().Run(runId));
        var checkpoint = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (host.Get<RunNotifier>().Subscribe(runId, u => { if (u.Event is CheckpointSaved) checkpoint.TrySetResult(); return Task.CompletedTask; }))
        {
            var job = host.Get<TrainingJob>().RunAsync(runId, default);
            await Task.WhenAny(checkpoint.Task, job).WaitAsync(TimeSpan.FromMinutes(8));
            Assert.True(checkpoint.Task.IsCompleted, "the run saved a checkpoint");
            Assert.True(folder.IsTrainerRunning);

            string connectionString;
            await using (var db = await host.DbAsync()) connectionString = db.Database.GetConnectionString()!;
            await using (var blocker = new SqliteConnection(connectionString))
            {
                await blocker.OpenAsync();
                await using (var begin = blocker.CreateCommand())
                {
                    begin.CommandText = "BEGIN EXCLUSIVE;";
                    await begin.ExecuteNonQueryAsync();
                }
                // The job's writes wait for 30 seconds, then fail: the trainer is gone by the time the job gives up.
                await WaitUntilAsync(() => !folder.IsTrainerRunning, TimeSpan.FromMinutes(3), "the failed job's trainer to end");
                await using var rollback = blocker.CreateCommand();
                rollback.CommandText = "ROLLBACK;";
                await rollback.ExecuteNonQueryAsync();
            }
            await Assert.ThrowsAnyAsync<Exception>(() => job.WaitAsync(TimeSpan.FromMinutes(2)));
        }
        Assert.Equal(RunStatus.Interrupted, (await RunAsync(host, runId)).Status);

        // The sweep queues it again; one trainer resumes from the checkpoint, and is cancelled after a step.
        Assert.Equal(1, await host.Get<RunSweeper>().SweepAsync(startup: false, default));
        var stepped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (host.Get<RunNotifier>().Subscribe(runId, u => { if (u.Event is TrainingStep) stepped.TrySetResult(); return Task.CompletedTask; }))
        {
            var resumed = host.Get<TrainingJob>().RunAsync(runId, default);
            await Task.WhenAny(stepped.Task, resumed).WaitAsync(TimeSpan.FromMinutes(8));
            await scheduler.CancelAsync(runId);
            await resumed.WaitAsync(TimeSpan.FromMinutes(4));
        }
        Assert.Equal(RunStatus.Cancelled, (await RunAsync(host, runId)).Status);
        Assert.False(folder.IsTrainerRunning);

        var events = File.ReadAllLines(folder.MetricsFile).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var starts = events.Where(e => e.GetProperty("event").GetString() == "started").Select(e => e.GetProperty("startStep").GetInt32()).ToList();
        Assert.Equal(2, starts.Count);
        Assert.True(starts[1] > 0, "resumed from the checkpoint");
        Assert.Equal(1, events.Count(e => e.GetProperty("event").GetString() == "finished")); // the killed trainer never finished
    }
}
