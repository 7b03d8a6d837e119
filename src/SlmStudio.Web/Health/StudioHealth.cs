using System.Text.Json;
using Hangfire;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using SlmStudio.Web.Data;
using SlmStudio.Web.Options;

namespace SlmStudio.Web.Health;

/// <summary>Section "Studio:Health".</summary>
public sealed class HealthOptions
{
    public const string Section = "Studio:Health";

    /// <summary>Below this much free space where runs, models or the SQLite files are written, the process is not ready:
    /// a checkpoint or an export could not be written.</summary>
    [System.ComponentModel.DataAnnotations.Range(0, 10_000_000)]
    public int MinimumFreeDiskMegabytes { get; set; } = 1024;

    /// <summary>How long one readiness check may take before it counts as failed.</summary>
    [System.ComponentModel.DataAnnotations.Range(1, 300)]
    public int CheckTimeoutSeconds { get; set; } = 10;
}

/// <summary>
/// /health/live answers 200 while the process serves requests (restart it when it does not); /health/ready answers 200
/// only when the database, the job storage and the disk are usable (send it no work when it does not). Both are open
/// without sign-in so that load balancers and orchestrators can call them; they show no project data.
/// </summary>
public static class StudioHealth
{
    public const string LivePath = "/health/live";
    public const string ReadyPath = "/health/ready";
    private const string ReadyTag = "ready";

    public static void AddStudioHealthChecks(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<HealthOptions>().BindConfiguration(HealthOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        var timeout = TimeSpan.FromSeconds(Math.Clamp(builder.Configuration.GetValue($"{HealthOptions.Section}:CheckTimeoutSeconds", 10), 1, 300));
        builder.Services.AddHealthChecks()
            .AddDbContextCheck<StudioDbContext>("database", HealthStatus.Unhealthy, [ReadyTag])
            .Add(new HealthCheckRegistration("job-storage", sp => ActivatorUtilities.CreateInstance<JobStorageHealthCheck>(sp), HealthStatus.Unhealthy, [ReadyTag], timeout))
            .Add(new HealthCheckRegistration("disk", sp => ActivatorUtilities.CreateInstance<FreeDiskHealthCheck>(sp), HealthStatus.Unhealthy, [ReadyTag], timeout));
    }

    public static void MapStudioHealth(this WebApplication app)
    {
        app.MapHealthChecks(LivePath, new HealthCheckOptions { Predicate = _ => false, ResponseWriter = WriteAsync }).AllowAnonymous();
        app.MapHealthChecks(ReadyPath, new HealthCheckOptions { Predicate = c => c.Tags.Contains(ReadyTag), ResponseWriter = WriteAsync }).AllowAnonymous();
    }

    /// <summary>{"status":"Unhealthy","checks":[{"name":"database","status":"Unhealthy","description":"…"}]}</summary>
    private static Task WriteAsync(HttpContext http, HealthReport report)
    {
        http.Response.ContentType = "application/json";
        http.Response.Headers.CacheControl = "no-store";
        var body = new
        {
            status = report.Status.ToString(),
            checks = report.Entries.Select(e => new
            {
                name = e.Key,
                status = e.Value.Status.ToString(),
                description = e.Value.Description ?? e.Value.Exception?.Message,
                durationMs = Math.Round(e.Value.Duration.TotalMilliseconds),
                data = e.Value.Data.Count == 0 ? null : e.Value.Data,
            }),
        };
        return http.Response.WriteAsync(JsonSerializer.Serialize(body, JsonOptions));
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull };
}

/// <summary>Hangfire's storage answers: the servers it knows and the jobs waiting per queue.</summary>
public sealed class JobStorageHealthCheck(JobStorage storage) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            // Hangfire's monitoring API is synchronous; the registration's timeout cancels the wait, not the query.
            var data = await Task.Run(() =>
            {
                var monitoring = storage.GetMonitoringApi();
                var result = new Dictionary<string, object> { ["servers"] = monitoring.Servers().Count };
                foreach (var queue in monitoring.Queues()) result[$"queue:{queue.Name}"] = queue.Length;
                return result;
            }, cancellationToken).WaitAsync(cancellationToken);
            return HealthCheckResult.Healthy("The job storage answers.", data);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy($"The job storage does not answer: {e.Message}", e);
        }
    }
}

/// <summary>Enough free space in every folder this process writes to (runs and uploads, models, the SQLite files).</summary>
public sealed class FreeDiskHealthCheck(StudioPaths paths, IOptions<HealthOptions> options, IOptions<DatabaseOptions> database) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var minimumBytes = options.Value.MinimumFreeDiskMegabytes * 1024L * 1024L;
        // Named, not shown as paths: the endpoint is open without sign-in.
        var folders = new List<(string Name, string Path)> { ("jobs", paths.Jobs), ("models", paths.Models) };
        if (!database.Value.IsPostgreSql) folders.Add(("database files", Path.GetDirectoryName(paths.Database)!));
        var data = new Dictionary<string, object>();
        var tooFull = new List<string>();
        foreach (var (name, folder) in folders)
        {
            var existing = NearestExisting(folder);
            if (existing is null) continue;
            var free = new DriveInfo(existing).AvailableFreeSpace;
            data[name] = $"{free / (1024 * 1024):N0} MB free";
            if (free < minimumBytes) tooFull.Add($"the {name} folder has {free / (1024 * 1024):N0} MB free");
        }
        return Task.FromResult(tooFull.Count == 0
            ? HealthCheckResult.Healthy("Enough free disk space.", data)
            : HealthCheckResult.Unhealthy($"Not enough free disk space (at least {options.Value.MinimumFreeDiskMegabytes:N0} MB needed): {string.Join("; ", tooFull)}. Free some space or move the folder to a larger disk.", data: data));
    }

    /// <summary>A folder not created yet lives on its parent's disk.</summary>
    private static string? NearestExisting(string folder)
    {
        for (var dir = new DirectoryInfo(folder); dir is not null; dir = dir.Parent)
            if (dir.Exists) return dir.FullName;
        return null;
    }
}
