using System.Net;
using Hangfire;
using Hangfire.States;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using SlmStudio.Web.Data;
using SlmStudio.Web.Jobs;

namespace SlmStudio.Web.Tests;

/// <summary>Health endpoints, database settings and training queues on the default SQLite set-up.</summary>
public class HealthAndQueueTests
{
    [Fact]
    public async Task Health_endpoints_answer_without_sign_in_and_ready_reports_each_check()
    {
        await using var host = await StudioTestHost.StartAsync(web: true);
        using var http = await host.ClientAsync();

        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health/live")).StatusCode);
        var ready = await http.GetAsync("/health/ready");
        var body = await ready.Content.ReadAsStringAsync();
        Assert.True(ready.StatusCode == HttpStatusCode.OK, body);
        var checks = PostgreSqlTests.Checks(body);
        Assert.Equal(["database", "disk", "job-storage"], checks.Keys.Order());
        Assert.All(checks.Values, status => Assert.Equal("Healthy", status));
        // Only these two are open: everything else still needs a signed-in person.
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/api/versions/1/download")).StatusCode);
    }

    [Fact]
    public async Task Ready_fails_and_says_why_when_the_disk_is_too_full_while_live_stays_ok()
    {
        await using var host = await StudioTestHost.StartAsync(new() { ["Studio:Health:MinimumFreeDiskMegabytes"] = "10000000" }, web: true);
        using var http = await host.ClientAsync();

        var ready = await http.GetAsync("/health/ready");
        var body = await ready.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Equal("Unhealthy", PostgreSqlTests.Checks(body)["disk"]);
        Assert.Contains("Not enough free disk space", body);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health/live")).StatusCode);
    }

    [Fact]
    public async Task The_sqlite_model_has_no_change_missing_from_its_migrations()
    {
        await using var host = await StudioTestHost.StartAsync();
        await using var db = await host.DbAsync();
        Assert.Equal("Microsoft.EntityFrameworkCore.Sqlite", db.Database.ProviderName);
        Assert.False(db.Database.HasPendingModelChanges());
    }

    [Fact]
    public async Task PostgreSql_without_a_connection_string_is_refused_at_start_naming_the_setting()
    {
        var e = await Assert.ThrowsAsync<OptionsValidationException>(() =>
            StudioTestHost.StartAsync(new() { ["Studio:Database:Provider"] = "PostgreSql" }));
        Assert.Contains("Studio:Database:ConnectionString", e.Message);
    }

    [Fact]
    public async Task Training_goes_to_the_gpu_queue_only_for_the_presets_configured_and_stays_there_when_requeued()
    {
        await using var host = await StudioTestHost.StartAsync(new() { ["Studio:Queues:GpuPresets"] = "medium, large" });
        var scheduler = host.Get<RunScheduler>();
        var large = await AddProjectWithPresetAsync(host, "medium");
        var tiny = await AddProjectWithPresetAsync(host, "tiny");

        var gpuJob = await JobOfAsync(host, await scheduler.StartAsync(large, "tester"));
        var cpuJob = await JobOfAsync(host, await scheduler.StartAsync(tiny, "tester"));
        Assert.Equal(TrainingQueues.Gpu, QueueOf(host, gpuJob));
        Assert.Equal(TrainingQueues.Cpu, QueueOf(host, cpuJob));

        // A requeue that names no queue (as the dashboard's) lands on the job's own queue, not on "default".
        Assert.True(host.Get<IBackgroundJobClient>().ChangeState(gpuJob, new EnqueuedState()));
        Assert.Equal(TrainingQueues.Gpu, QueueOf(host, gpuJob));
    }

    [Fact]
    public void A_worker_listens_on_gpu_only_when_it_has_one()
    {
        static string[] QueuesFor(GpuWorker gpu) => new TrainingQueues(
            Microsoft.Extensions.Options.Options.Create(new QueueOptions { Gpu = gpu }),
            Microsoft.Extensions.Logging.Abstractions.NullLogger<TrainingQueues>.Instance).ForThisWorker();

        Assert.Equal([TrainingQueues.Gpu, TrainingQueues.Cpu, TrainingQueues.Legacy], QueuesFor(GpuWorker.Yes));
        Assert.Equal([TrainingQueues.Cpu, TrainingQueues.Legacy], QueuesFor(GpuWorker.No));
        // This build's TorchSharp has no CUDA: automatic detection finds none.
        Assert.Equal([TrainingQueues.Cpu, TrainingQueues.Legacy], QueuesFor(GpuWorker.Auto));
    }

    private static async Task<int> AddProjectWithPresetAsync(StudioTestHost host, string preset)
    {
        var project = await host.AddProjectAsync($"Project {preset}");
        await using var db = await host.DbAsync();
        (await db.Projects.SingleAsync(p => p.Id == project.Id)).Preset = preset;
        await db.SaveChangesAsync();
        return project.Id;
    }

    private static async Task<string> JobOfAsync(StudioTestHost host, int runId)
    {
        await using var db = await host.DbAsync();
        return (await db.Runs.SingleAsync(r => r.Id == runId)).HangfireJobId!;
    }

    private static string QueueOf(StudioTestHost host, string jobId)
    {
        using var connection = host.Get<JobStorage>().GetConnection();
        var state = connection.GetStateData(jobId);
        Assert.Equal(EnqueuedState.StateName, state.Name);
        return state.Data["Queue"];
    }
}
