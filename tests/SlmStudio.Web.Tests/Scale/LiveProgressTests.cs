using Microsoft.Extensions.Logging.Abstractions;
using SlmStudio.Core.Training;
using SlmStudio.Web.Data;
using SlmStudio.Web.Services;
using SlmStudio.Web.Training;

namespace SlmStudio.Web.Tests.Scale;

public class LiveProgressTests
{
    /// <summary>A worker's progress write raises the run notification in another process's portal, over PostgreSQL
    /// LISTEN/NOTIFY: two hosts on one database stand for the two processes.</summary>
    [PostgresFact]
    public async Task A_progress_write_in_one_host_reaches_the_run_page_subscribers_of_another()
    {
        await using var database = await PostgresTestDatabase.CreateAsync();
        await using var worker = await StudioTestHost.StartAsync(database.Settings());
        await using var portal = await StudioTestHost.StartAsync(database.Settings());
        await worker.App.StartAsync();
        await portal.App.StartAsync();
        await portal.Get<PostgresRunUpdateRelay>().Listening.WaitAsync(TimeSpan.FromMinutes(1));

        var project = await worker.AddProjectAsync();
        int runId;
        await using (var db = await worker.DbAsync())
        {
            var run = new TrainingRun { ProjectId = project.Id, Status = RunStatus.Queued, CreatedAt = DateTimeOffset.UtcNow, Preset = "tiny" };
            db.Runs.Add(run);
            await db.SaveChangesAsync();
            runId = run.Id;
        }

        var heard = new TaskCompletionSource<RunUpdate>(TaskCreationOptions.RunContinuationsAsynchronously);
        var heardElsewhere = new TaskCompletionSource<RunUpdate>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var subscription = portal.Get<RunNotifier>().Subscribe(runId, u =>
        {
            if (u.Event is not null) heard.TrySetResult(u);
            return Task.CompletedTask;
        });
        // Another run's page hears nothing of it.
        using var other = portal.Get<RunNotifier>().Subscribe(runId + 1, u => { heardElsewhere.TrySetResult(u); return Task.CompletedTask; });

        var progress = new RunProgressWriter(worker.Get<Microsoft.EntityFrameworkCore.IDbContextFactory<StudioDbContext>>(), worker.Get<RunNotifier>(),
            TimeProvider.System, runId, NullLogger.Instance);
        await progress.StartAsync();
        var saved = new CheckpointSaved(12);
        await progress.WriteAsync(saved, saved.ToJsonLine());

        var update = await heard.Task.WaitAsync(TimeSpan.FromMinutes(1));
        Assert.Equal(runId, update.RunId);
        Assert.Equal(saved, update.Event);
        Assert.False(heardElsewhere.Task.IsCompleted);
    }

    [Fact]
    public void A_large_event_travels_as_a_reload_instead_of_being_refused_by_PostgreSQL()
    {
        var big = new TrainingMessage(new string('x', 20_000));
        var payload = PostgresRunUpdateRelay.Serialize(new RunUpdate(3, big), "worker-1");
        Assert.True(System.Text.Encoding.UTF8.GetByteCount(payload) < 8000);
        Assert.DoesNotContain("xxxx", payload);
        Assert.Contains("\"RunId\":3", payload);
    }
}
