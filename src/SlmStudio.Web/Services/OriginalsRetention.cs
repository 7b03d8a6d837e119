using System.Text.Json;
using Hangfire;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using SlmStudio.Core.Data;
using SlmStudio.Web.Data;
using SlmStudio.Web.Options;
using SlmStudio.Web.Security;

namespace SlmStudio.Web.Services;

/// <summary>
/// Deletes original uploads and their extracted text once the retention period after their first freeze has passed
/// (<see cref="RetentionOptions"/>). A file counts as frozen when a dataset version of its project, frozen after the
/// upload, lists its content hash among its sources. The row stays, marked with <see cref="DataFile.OriginalDeletedAt"/>,
/// so the data step can say what happened; the audit log records each deletion (the file's name and number, not its text).
/// Runs as a recurring Hangfire job (<see cref="RecurringJobId"/>) on whichever worker picks it up.
/// </summary>
public sealed class OriginalsRetention(
    IDbContextFactory<StudioDbContext> dbFactory,
    DataUploads uploads,
    IOptions<RetentionOptions> options,
    TimeProvider clock,
    AuditLog audit,
    ILogger<OriginalsRetention> logger)
{
    public const string RecurringJobId = "delete-expired-originals";
    public const string RetentionUser = "retention policy";

    /// <summary>Deletes every expired original; returns how many files were deleted. Safe to run twice at once: a
    /// file already marked is skipped, and deleting a file that is gone is not an error.</summary>
    [DisableConcurrentExecution(timeoutInSeconds: 600)]
    [AutomaticRetry(Attempts = 0)] // the next sweep is the retry
    public async Task<int> DeleteExpiredAsync(CancellationToken ct)
    {
        var keep = TimeSpan.FromDays(options.Value.KeepOriginalsDays);
        var now = clock.GetUtcNow();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var candidates = await db.DataFiles.Where(f => f.OriginalDeletedAt == null && f.Status == DataFileStatus.Ready).OrderBy(f => f.Id).ToListAsync(ct);
        if (candidates.Count == 0) return 0;
        var projectIds = candidates.Select(f => f.ProjectId).Distinct().ToList();
        var versions = await db.DatasetVersions.AsNoTracking().Where(d => projectIds.Contains(d.ProjectId))
            .Select(d => new { d.Id, d.ProjectId, d.CreatedAt, d.SourcesJson }).ToListAsync(ct);
        var frozenSources = versions.Select(v => (v.Id, v.ProjectId, v.CreatedAt, Hashes: SourceHashes(v.SourcesJson))).ToList();

        var deleted = 0;
        foreach (var file in candidates)
        {
            ct.ThrowIfCancellationRequested();
            if (file.Sha256.Length == 0) continue;
            var firstFreeze = frozenSources
                .Where(v => v.ProjectId == file.ProjectId && v.CreatedAt >= file.UploadedAt && v.Hashes.Contains(file.Sha256))
                .OrderBy(v => v.CreatedAt).Select(v => ((int Id, DateTimeOffset At)?)(v.Id, v.CreatedAt)).FirstOrDefault();
            if (firstFreeze is not { } frozen || frozen.At + keep > now) continue;

            if (!TryDelete(file)) continue;
            file.OriginalDeletedAt = now;
            await db.SaveChangesAsync(ct);
            deleted++;
            await audit.RecordAsync(AuditActions.OriginalDeleted,
                $"'{SafeFileName.ForDisplay(file.OriginalName)}' (file {file.Id}) and its extracted text, frozen in dataset version {frozen.Id} on {frozen.At.UtcDateTime:yyyy-MM-dd HH:mm} UTC, kept {options.Value.KeepOriginalsDays} days",
                file.ProjectId, RetentionUser);
        }
        if (deleted > 0) logger.LogInformation("Retention policy: deleted the originals of {Count} frozen files", deleted);
        return deleted;
    }

    /// <summary>Deletes the original and its extracted text; false (logged) when one of them could not be deleted, so
    /// the next sweep tries again.</summary>
    private bool TryDelete(DataFile file)
    {
        try
        {
            foreach (var path in new[] { uploads.StoredPath(file), uploads.ExtractedPath(file) })
                if (File.Exists(path)) File.Delete(path);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            logger.LogError(e, "Retention policy: could not delete the original of file {FileId} of project {ProjectId}; the next sweep tries again", file.Id, file.ProjectId);
            return false;
        }
    }

    private HashSet<string> SourceHashes(string sourcesJson)
    {
        try
        {
            var sources = JsonSerializer.Deserialize<List<DatasetSource>>(sourcesJson, DatasetVersion.Json) ?? [];
            return sources.Select(s => s.Sha256).Where(h => h.Length > 0).ToHashSet(StringComparer.OrdinalIgnoreCase);
        }
        catch (JsonException e)
        {
            // An unreadable list keeps the originals: deleting on a guess could lose data no version holds.
            logger.LogWarning(e, "Retention policy: the sources of a dataset version could not be read; its files are kept");
            return [];
        }
    }
}

/// <summary>Registers the retention policy's options, the sweep and its schedule.</summary>
public static class OriginalsRetentionRegistration
{
    public static IServiceCollection AddOriginalsRetention(this IServiceCollection services)
    {
        services.AddOptions<RetentionOptions>().BindConfiguration(RetentionOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddTransient<OriginalsRetention>();
        services.AddHostedService<RetentionSchedule>();
        return services;
    }

    /// <summary>Puts the sweep on Hangfire's recurring schedule at start (every process may: the entry is one row,
    /// updated in place), so whichever worker is running deletes expired originals.</summary>
    private sealed class RetentionSchedule(IRecurringJobManager recurring, IOptions<RetentionOptions> options) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            recurring.AddOrUpdate<OriginalsRetention>(OriginalsRetention.RecurringJobId, j => j.DeleteExpiredAsync(CancellationToken.None),
                $"*/{options.Value.SweepMinutes} * * * *");
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
