using System.Diagnostics.Metrics;
using Hangfire;
using Microsoft.EntityFrameworkCore;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using SlmStudio.Web.Data;

namespace SlmStudio.Web.Health;

/// <summary>
/// Gauges for operations, on the meter "SlmStudio": jobs waiting per queue, runs training now, and each running run's
/// training speed. They are read when a metrics exporter collects, not on a timer of their own.
/// </summary>
public sealed class StudioMetrics : IHostedService
{
    public const string MeterName = "SlmStudio";
    public const string QueuedJobs = "slm.jobs.queued";
    public const string RunningRuns = "slm.runs.running";
    public const string TokensPerSecond = "slm.training.tokens_per_second";

    private readonly IDbContextFactory<StudioDbContext> _dbFactory;
    private readonly JobStorage _storage;

    public StudioMetrics(IMeterFactory meters, IDbContextFactory<StudioDbContext> dbFactory, JobStorage storage)
    {
        _dbFactory = dbFactory;
        _storage = storage;
        var meter = meters.Create(MeterName);
        meter.CreateObservableGauge(QueuedJobs, MeasureQueues, "{job}", "Jobs waiting in each Hangfire queue (cpu, gpu, default).");
        meter.CreateObservableGauge(RunningRuns, MeasureRunning, "{run}", "Training runs that are running now, on any worker.");
        meter.CreateObservableGauge(TokensPerSecond, MeasureSpeed, "{token}/s", "Training speed of each running run at its last step.");
    }

    private IEnumerable<Measurement<long>> MeasureQueues() =>
        _storage.GetMonitoringApi().Queues().Select(q => new Measurement<long>(q.Length, new KeyValuePair<string, object?>("queue", q.Name)));

    private int MeasureRunning()
    {
        using var db = _dbFactory.CreateDbContext();
        return db.Runs.Count(r => r.Status == RunStatus.Running);
    }

    private IEnumerable<Measurement<double>> MeasureSpeed()
    {
        using var db = _dbFactory.CreateDbContext();
        return db.Runs.Where(r => r.Status == RunStatus.Running && r.TokensPerSecond != null)
            .Select(r => new { r.Id, r.Preset, Speed = r.TokensPerSecond!.Value }).ToList()
            .Select(r => new Measurement<double>(r.Speed, new("run", r.Id), new("preset", r.Preset)));
    }

    // A hosted service only so that the gauges exist from the start, before anything asks for this class.
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

public static class StudioMetricsRegistration
{
    /// <summary>
    /// The gauges always; an OpenTelemetry exporter (OTLP) only when OTEL_EXPORTER_OTLP_ENDPOINT is set, so that the
    /// default start sends nothing anywhere.
    /// </summary>
    public static void AddStudioMetrics(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<StudioMetrics>().AddHostedService(sp => sp.GetRequiredService<StudioMetrics>());
        if (string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"])) return;
        builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService("slm-studio", serviceInstanceId: Environment.MachineName))
            .WithMetrics(m => m.AddMeter(StudioMetrics.MeterName, "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel")
                .AddOtlpExporter());
    }
}
