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
        await using var host = await StudioTestHost.StartAsync(new() { ["Studio:Database:Provider"] = "Sqlite" });
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

/// <summary>The operations gauges, read as an exporter would (a MeterListener on the host's own meter).</summary>
public class MetricsTests
{
    [Fact]
    public async Task Gauges_report_queued_jobs_per_queue_running_runs_and_their_speed()
    {
        await using var host = await StudioTestHost.StartAsync();
        var project = await host.AddProjectAsync();
        var queuedRun = await host.Get<RunScheduler>().StartAsync(project.Id, "tester");
        var other = await host.AddProjectAsync("Second");
        await using (var db = await host.DbAsync())
        {
            db.Runs.Add(new TrainingRun { ProjectId = other.Id, Status = RunStatus.Running, Preset = "small", TokensPerSecond = 1234.5, CreatedAt = DateTimeOffset.UtcNow });
            await db.SaveChangesAsync();
        }
        var meter = host.Get<SlmStudio.Web.Health.StudioMetrics>();
        Assert.NotNull(meter);

        var longs = new List<(string Name, long Value, Dictionary<string, object?> Tags)>();
        var ints = new List<(string Name, int Value)>();
        var doubles = new List<(string Name, double Value, Dictionary<string, object?> Tags)>();
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        var factory = host.Get<System.Diagnostics.Metrics.IMeterFactory>();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == SlmStudio.Web.Health.StudioMetrics.MeterName && instrument.Meter.Scope == factory) l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((i, v, tags, _) => longs.Add((i.Name, v, Tags(tags))));
        listener.SetMeasurementEventCallback<int>((i, v, _, _) => ints.Add((i.Name, v)));
        listener.SetMeasurementEventCallback<double>((i, v, tags, _) => doubles.Add((i.Name, v, Tags(tags))));
        listener.Start();
        listener.RecordObservableInstruments();

        Assert.Contains(longs, m => m.Name == SlmStudio.Web.Health.StudioMetrics.QueuedJobs && m.Value == 1 && (string?)m.Tags["queue"] == TrainingQueues.Cpu);
        Assert.Equal([(SlmStudio.Web.Health.StudioMetrics.RunningRuns, 1)], ints);
        var speed = Assert.Single(doubles);
        Assert.Equal((SlmStudio.Web.Health.StudioMetrics.TokensPerSecond, 1234.5, "small"), (speed.Name, speed.Value, (string?)speed.Tags["preset"]));
        Assert.NotEqual(queuedRun, (int)speed.Tags["run"]!);
    }

    private static Dictionary<string, object?> Tags(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var result = new Dictionary<string, object?>();
        foreach (var (key, value) in tags) result[key] = value;
        return result;
    }
}
