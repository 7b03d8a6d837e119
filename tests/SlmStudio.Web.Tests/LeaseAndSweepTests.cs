using Hangfire;
using Hangfire.Storage;
using Microsoft.EntityFrameworkCore;
using SlmStudio.Web.Data;
using SlmStudio.Web.Jobs;

namespace SlmStudio.Web.Tests;

public class LeaseAndSweepTests
{
    private static async Task<int> AddRunAsync(StudioTestHost host, int projectId, RunStatus status, string? owner = null, DateTimeOffset? expires = null)
    {
        await using var db = await host.DbAsync();
        var run = new TrainingRun
        {
            ProjectId = projectId, Status = status, CreatedAt = DateTimeOffset.UtcNow, StartedAt = DateTimeOffset.UtcNow.AddMinutes(-10),
            LeaseOwner = owner, LeaseExpiresAt = expires, Preset = "tiny",
        };
        db.Runs.Add(run);
        await db.SaveChangesAsync();
        return run.Id;
    }

    [Fact]
    public async Task Only_one_worker_holds_a_run_until_its_lease_runs_out()
    {
        await using var host = await StudioTestHost.StartAsync();
        var project = await host.AddProjectAsync();
        var leases = host.Get<RunLeases>();
        var runId = await AddRunAsync(host, project.Id, RunStatus.Queued);

        Assert.True(await leases.TryAcquireAsync(runId, default));
        Assert.False(await leases.TryAcquireAsync(runId, default)); // Hangfire handing the same job out again changes nothing
        Assert.True(await leases.RenewAsync(runId, default));

        // Another worker's lease that ran out can be taken over; a live one cannot.
        var other = await AddRunAsync(host, project.Id, RunStatus.Running, "elsewhere:1:abc", DateTimeOffset.UtcNow.AddSeconds(-1));
        var live = await AddRunAsync(host, project.Id, RunStatus.Running, "elsewhere:1:abc", DateTimeOffset.UtcNow.AddMinutes(5));
        Assert.True(await leases.TryAcquireAsync(other, default));
        Assert.False(await leases.TryAcquireAsync(live, default));

        // Finished runs are never taken again.
        var done = await AddRunAsync(host, project.Id, RunStatus.Succeeded);
        Assert.False(await leases.TryAcquireAsync(done, default));

        await leases.ReleaseAsync(runId);
        await using var db = await host.DbAsync();
        Assert.Null((await db.Runs.SingleAsync(r => r.Id == runId)).LeaseOwner);
    }

    [Fact]
    public async Task The_heartbeat_passes_on_a_cancel_request_and_stops_when_the_lease_is_lost()
    {
        await using var host = await StudioTestHost.StartAsync();
        var project = await host.AddProjectAsync();
        var leases = host.Get<RunLeases>();
        var runId = await AddRunAsync(host, project.Id, RunStatus.Queued);
        Assert.True(await leases.TryAcquireAsync(runId, default));

        var cancelRequested = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var leaseLost = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stop = new CancellationTokenSource();
        var heartbeat = leases.KeepAliveAsync(runId, () => cancelRequested.TrySetResult(), () => leaseLost.TrySetResult(), stop.Token);

        await using (var db = await host.DbAsync())
            await db.Runs.Where(r => r.Id == runId).ExecuteUpdateAsync(s => s.SetProperty(r => r.CancelRequested, true));
        await cancelRequested.Task.WaitAsync(TimeSpan.FromMinutes(2));
        Assert.False(leaseLost.Task.IsCompleted);

        // Another worker took the run over (our lease had run out): this copy must stop.
        await using (var db = await host.DbAsync())
            await db.Runs.Where(r => r.Id == runId).ExecuteUpdateAsync(s => s.SetProperty(r => r.LeaseOwner, "elsewhere:1:abc"));
        await leaseLost.Task.WaitAsync(TimeSpan.FromMinutes(2));
        await heartbeat.WaitAsync(TimeSpan.FromMinutes(2)); // and the heartbeat ends by itself
    }

    [Fact]
    public async Task Start_up_sweep_resumes_runs_with_a_checkpoint_and_fails_the_others()
    {
        await using var host = await StudioTestHost.StartAsync();
        var project = await host.AddProjectAsync();
        var paths = host.Get<Options.StudioPaths>();
        var stale = DateTimeOffset.UtcNow.AddSeconds(-30);
        var noCheckpoint = await AddRunAsync(host, project.Id, RunStatus.Running, "elsewhere:1:abc", stale);
        var withCheckpoint = await AddRunAsync(host, project.Id, RunStatus.Running, "elsewhere:1:abc", stale);
        Directory.CreateDirectory(Core.Training.RunFolder.At(paths.Run(withCheckpoint)).CheckpointDirectory);
        var interrupted = await AddRunAsync(host, project.Id, RunStatus.Interrupted);
        Directory.CreateDirectory(Core.Training.RunFolder.At(paths.Run(interrupted)).CheckpointDirectory);
        var alive = await AddRunAsync(host, project.Id, RunStatus.Running, "elsewhere:1:abc", DateTimeOffset.UtcNow.AddMinutes(1));
        // A lease held by a process of this machine that no longer exists is dead even before it expires.
        var deadLocal = await AddRunAsync(host, project.Id, RunStatus.Running, $"{Environment.MachineName}:{int.MaxValue - 7}:dead", DateTimeOffset.UtcNow.AddMinutes(1));

        var handled = await host.Get<RunSweeper>().SweepAsync(startup: true, default);

        Assert.Equal(4, handled);
        await using var db = await host.DbAsync();
        var runs = await db.Runs.ToDictionaryAsync(r => r.Id);
        Assert.Equal(RunStatus.Failed, runs[noCheckpoint].Status);
        Assert.Contains("Start the training again", runs[noCheckpoint].Error);
        Assert.Equal(RunStatus.Failed, runs[deadLocal].Status);
        Assert.Equal(RunStatus.Queued, runs[withCheckpoint].Status);
        Assert.Equal(RunStatus.Queued, runs[interrupted].Status);
        Assert.Equal(RunStatus.Running, runs[alive].Status);

        // The resumed runs are really queued in Hangfire's SQLite storage, with export and registration chained after.
        using var connection = host.Get<JobStorage>().GetConnection();
        foreach (var id in new[] { withCheckpoint, interrupted })
        {
            var job = connection.GetJobData(runs[id].HangfireJobId!);
            Assert.Equal("Enqueued", job.State);
            Assert.Equal(nameof(TrainingJob.RunAsync), job.Job.Method.Name);
            Assert.Equal(id, job.Job.Args[0]);
        }
        Assert.Equal(2, host.Get<JobStorage>().GetMonitoringApi().EnqueuedCount(TrainingQueues.Cpu));
    }

    [Fact]
    public async Task A_run_without_usable_documents_fails_with_a_plain_message()
    {
        await using var host = await StudioTestHost.StartAsync();
        var project = await host.AddProjectAsync();
        var runId = await host.Get<RunScheduler>().StartAsync(project.Id, "tester");

        await host.Get<TrainingJob>().RunAsync(runId, default);

        await using var db = await host.DbAsync();
        var run = await db.Runs.SingleAsync(r => r.Id == runId);
        Assert.Equal(RunStatus.Failed, run.Status);
        Assert.Equal("This project has no usable documents. Go back to the Data step and upload some files.", run.Error);
        Assert.Null(run.LeaseOwner);
    }
}
