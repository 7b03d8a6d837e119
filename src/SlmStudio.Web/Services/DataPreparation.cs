using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using SlmStudio.Core;
using SlmStudio.Core.Data;
using SlmStudio.Core.Retrieval;
using SlmStudio.Web.Data;
using SlmStudio.Web.Options;

namespace SlmStudio.Web.Services;

/// <summary>The data step's switches for a project, and the dataset version frozen with them.</summary>
public sealed record DataOptions(bool RedactPersonalData, bool RemoveDuplicates, UseCase UseCase, DatasetVersionRecord? Frozen);

/// <summary>A review the user saw, with the settings it was made with: freezing writes exactly this.</summary>
public sealed record DataReview(int ProjectId, PreparationReview Review, DatasetSettings Settings);

/// <summary>
/// Turns a project's uploads into a frozen dataset version: extraction in the background (PDF, DOCX and HTML in the
/// isolated <c>slm extract</c> child process), review (redaction, duplicates), and freezing into the datasets folder
/// with a database row that runs and models point at.
/// </summary>
public sealed class DataPreparation(
    IDbContextFactory<StudioDbContext> dbFactory,
    DataUploads uploads,
    StudioPaths paths,
    DataNotifier notifier,
    IHostApplicationLifetime lifetime,
    TimeProvider clock,
    Security.AuditLog audit,
    ILogger<DataPreparation> logger)
{
    /// <summary>Files extracted together before their rows are saved, so the page fills in as it goes.</summary>
    private const int BatchSize = 4;

    private readonly ConcurrentDictionary<int, SemaphoreSlim> _locks = new();
    private readonly ConcurrentDictionary<int, DataProgress> _running = new();

    /// <summary>The latest progress of an extraction running now for the project, or null.</summary>
    public DataProgress? Running(int projectId) => _running.TryGetValue(projectId, out var p) ? p : null;

    /// <summary>Starts extracting the project's waiting files in the background and returns at once.</summary>
    public void StartExtraction(int projectId) => _ = Task.Run(async () =>
    {
        try { await ExtractAsync(projectId, lifetime.ApplicationStopping); }
        catch (OperationCanceledException) { }
        catch (Exception e) { logger.LogError(e, "Extraction for project {ProjectId} failed", projectId); }
    });

    /// <summary>Extracts every waiting file of the project; one extraction per project at a time, later uploads are picked up too.</summary>
    public async Task ExtractAsync(int projectId, CancellationToken ct)
    {
        var gate = _locks.GetOrAdd(projectId, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(ct);
        try
        {
            var isolated = File.Exists(paths.Slm) ? new IsolatedExtractor(paths.Slm) : null;
            if (isolated is null) logger.LogWarning("slm.dll not found at {Path}; documents are read inside the portal process", paths.Slm);
            int done = 0;
            while (true)
            {
                List<DataFile> waiting;
                await using (var db = await dbFactory.CreateDbContextAsync(ct))
                    waiting = await db.DataFiles.Where(f => f.ProjectId == projectId && f.Status == DataFileStatus.Waiting).OrderBy(f => f.Id).ToListAsync(ct);
                if (waiting.Count == 0) break;
                var total = done + waiting.Count;
                foreach (var batch in waiting.Chunk(BatchSize))
                {
                    var offset = done;
                    Report(new DataProgress("extract", offset, total, batch[0].OriginalName));
                    // Reported on the extracting thread, not posted to the thread pool as Progress<T> does: a posted
                    // report could land after the "finished" update below and leave the page showing a bar forever.
                    var progress = new InlineProgress(p => { if (p.Done > 0) Report(new DataProgress("extract", offset + p.Done, total, p.File)); });
                    var files = batch.Select(f => new UploadedFile(uploads.StoredPath(f), f.OriginalName, f.Mapping is { } m ? ColumnMapping.Parse(m) : null)).ToList();
                    IReadOnlyList<ExtractedDocument> docs;
                    try
                    {
                        docs = await BatchExtractor.ExtractAllAsync(files, isolated, uploads.Limits, progress, ct, parallelism: Math.Min(BatchSize, Math.Max(1, Environment.ProcessorCount)));
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        logger.LogError(e, "Extraction of a batch of project {ProjectId} failed", projectId);
                        docs = [.. batch.Select(f => ExtractedDocument.Failed(f.OriginalName, DocumentKind.Unknown, new DataProblem(SafeFileName.ForDisplay(f.OriginalName), null,
                            ProblemSeverity.Error, "This file could not be read because of an error on the server.", "Upload it again; if it keeps failing, tell your administrator.")))];
                    }
                    await SaveAsync(batch, docs, ct);
                    done += batch.Length;
                    Report(new DataProgress("extract", done, total), filesChanged: true);
                }
            }
        }
        finally
        {
            _running.TryRemove(projectId, out _);
            gate.Release();
            notifier.Publish(new DataUpdate(projectId, null, FilesChanged: true, Finished: true));
        }

        void Report(DataProgress p, bool filesChanged = false)
        {
            _running[projectId] = p;
            notifier.Publish(new DataUpdate(projectId, p, filesChanged));
        }
    }

    private sealed class InlineProgress(Action<DataProgress> report) : IProgress<DataProgress>
    {
        public void Report(DataProgress value) => report(value);
    }

    private async Task SaveAsync(DataFile[] batch, IReadOnlyList<ExtractedDocument> docs, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        for (int i = 0; i < batch.Length; i++)
        {
            var doc = docs[i];
            var row = await db.DataFiles.SingleOrDefaultAsync(f => f.Id == batch[i].Id, ct);
            if (row is null) continue; // removed while it was being read
            if (doc.IsUsable)
                AtomicFile.WriteAllText(uploads.ExtractedPath(row), JsonSerializer.Serialize(doc, DatasetVersion.Json));
            var error = doc.Problems.FirstOrDefault(p => p.Severity == ProblemSeverity.Error);
            row.Status = doc.IsUsable ? DataFileStatus.Ready : DataFileStatus.Failed;
            row.Problem = doc.IsUsable ? null : error is null ? "No text was found in this file." : $"{error.Message} {error.Fix}";
            row.ProblemsJson = JsonSerializer.Serialize(doc.Problems, DatasetVersion.Json);
            row.Characters = doc.IsUsable ? doc.Stats.Characters : 0;
            row.EstimatedTokens = doc.IsUsable ? doc.Stats.EstimatedTokens : 0;
            row.Records = doc.IsUsable ? doc.Stats.Records : 0;
            row.LabelCountsJson = JsonSerializer.Serialize(doc.Stats.LabelCounts, DatasetVersion.Json);
            row.Preview = DataUploads.RedactedPreview(doc.Preview(1500));
            if (doc.Kind != DocumentKind.Unknown) row.Kind = doc.Kind.ToString();
        }
        await db.SaveChangesAsync(ct);
    }

    /// <summary>The project's data switches, its use case and its current frozen dataset version (null when the data
    /// changed since it was last frozen).</summary>
    public async Task<DataOptions> OptionsAsync(int projectId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var project = await db.Projects.SingleAsync(p => p.Id == projectId, ct);
        var frozen = project.DatasetVersionId is { } id ? await db.DatasetVersions.SingleOrDefaultAsync(d => d.Id == id, ct) : null;
        return new DataOptions(project.RedactPersonalData, project.RemoveDuplicates, project.UseCase, frozen);
    }

    /// <summary>Saves the data switches; the frozen dataset no longer matches them, so the next continue freezes anew.</summary>
    public async Task SetOptionsAsync(int projectId, bool redactPersonalData, bool removeDuplicates, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await db.Projects.Where(p => p.Id == projectId).ExecuteUpdateAsync(s => s
            .SetProperty(p => p.RedactPersonalData, redactPersonalData).SetProperty(p => p.RemoveDuplicates, removeDuplicates)
            .SetProperty(p => p.DatasetVersionId, (int?)null), ct);
    }

    /// <summary>The settings the project's switches ask for.</summary>
    public static DatasetSettings SettingsOf(Project project) => new()
    {
        RedactPersonalData = project.RedactPersonalData,
        RemoveDuplicates = project.RemoveDuplicates,
        // "Write like us" reads plain text from every kind of file; "Sort and route" keeps the labelled rows (and
        // splits them by label, so each label has its share of held-out examples).
        Task = project.UseCase switch
        {
            UseCase.WriteLikeUs => DatasetTask.Text,
            UseCase.SortAndRoute => DatasetTask.Classification,
            UseCase.AnswerQuestions => DatasetTask.QuestionAnswer,
            _ => null,
        },
    };

    /// <summary>Redacts and deduplicates the project's usable files (as the review screen shows them); writes nothing.</summary>
    public Task<DataReview> ReviewAsync(int projectId, IProgress<DataProgress>? progress = null, CancellationToken ct = default) =>
        ReviewAsync(projectId, null, progress, ct);

    /// <summary>
    /// The review with the user's near-duplicate choice: the second record of each pair in
    /// <paramref name="removeNearDuplicates"/> is left out, every other near duplicate is kept. Null repeats the
    /// choice recorded in the project's latest frozen version (the choice lives in its settings, so no other table
    /// holds it).
    /// </summary>
    public async Task<DataReview> ReviewAsync(int projectId, IReadOnlySet<string>? removeNearDuplicates, IProgress<DataProgress>? progress = null, CancellationToken ct = default)
    {
        Project project;
        List<DataFile> files;
        await using (var db = await dbFactory.CreateDbContextAsync(ct))
        {
            project = await db.Projects.SingleAsync(p => p.Id == projectId, ct);
            files = await db.DataFiles.Where(f => f.ProjectId == projectId).OrderBy(f => f.Id).ToListAsync(ct);
            removeNearDuplicates ??= await LastNearDuplicateChoiceAsync(db, projectId, ct);
        }
        if (files.Any(f => f.Status == DataFileStatus.Waiting))
            throw new UserFacingException("Some files are still being read. Wait until they are done, then review again.");
        if (files.Where(f => f.OriginalDeletedAt is not null).Select(f => SafeFileName.ForDisplay(f.OriginalName)).ToList() is { Count: > 0 } cleared)
            throw new UserFacingException($"The original{(cleared.Count == 1 ? "" : "s")} of {string.Join(", ", cleared)} {(cleared.Count == 1 ? "was" : "were")} deleted after the data was frozen, as your administrator's retention policy asks, so a new dataset version cannot include {(cleared.Count == 1 ? "it" : "them")}. The versions frozen before keep {(cleared.Count == 1 ? "its" : "their")} text. Remove {(cleared.Count == 1 ? "it" : "them")} from the list, or upload {(cleared.Count == 1 ? "it" : "them")} again, then review again.");
        var settings = SettingsOf(project) with { RemoveNearDuplicates = removeNearDuplicates.Count > 0 ? [.. removeNearDuplicates.Order(StringComparer.Ordinal)] : null };
        var review = await Task.Run(() =>
        {
            // Every ready file, the second copy of the same content included, so the review can say it was used once.
            var docs = files.Where(f => f.Status == DataFileStatus.Ready && File.Exists(uploads.ExtractedPath(f)))
                .Select(f => JsonSerializer.Deserialize<ExtractedDocument>(File.ReadAllText(uploads.ExtractedPath(f)), DatasetVersion.Json)! with { OriginalName = f.OriginalName })
                .ToList();
            if (docs.Count == 0)
                throw new UserFacingException("There are no usable documents yet. Upload some files (or try the sample data) first.");
            try { return DatasetBuilder.Review(docs, settings, progress, ct); }
            catch (EngineException e) { throw new UserFacingException(e.Message); }
        }, ct);
        // Only choices about pairs that exist now are recorded: a stale id (the file was removed) must not make the
        // same data a new dataset version.
        var removed = review.NearPairs.Where(p => p.Removed).Select(p => p.Id).Order(StringComparer.Ordinal).ToList();
        return new DataReview(projectId, review, settings with { RemoveNearDuplicates = removed.Count > 0 ? removed : null });
    }

    private static async Task<IReadOnlySet<string>> LastNearDuplicateChoiceAsync(StudioDbContext db, int projectId, CancellationToken ct)
    {
        var json = await db.DatasetVersions.Where(d => d.ProjectId == projectId).OrderByDescending(d => d.Id).Select(d => d.SettingsJson).FirstOrDefaultAsync(ct);
        if (json is null) return new HashSet<string>();
        try { return (JsonSerializer.Deserialize<DatasetSettings>(json, DatasetVersion.Json)?.RemoveNearDuplicates ?? []).ToHashSet(StringComparer.Ordinal); }
        catch (JsonException) { return new HashSet<string>(); }
    }

    /// <summary>
    /// Freezes what the user reviewed as an immutable dataset version, with its passages and search index (progress
    /// stages "passages" and "index" after the training files), and makes it the project's current one.
    /// </summary>
    public async Task<DatasetVersionRecord> FreezeAsync(DataReview reviewed, string user, CancellationToken ct = default, IProgress<DataProgress>? progress = null)
    {
        DatasetVersion version;
        try { version = await Task.Run(() => DatasetSearch.Freeze(reviewed.Review, reviewed.Settings, paths.Datasets, progress, ct, clock), ct); }
        catch (EngineException e) { throw new UserFacingException(e.Message); }

        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var record = await db.DatasetVersions.SingleOrDefaultAsync(d => d.ProjectId == reviewed.ProjectId && d.DatasetId == version.Id, ct);
        if (record is null)
        {
            record = new DatasetVersionRecord
            {
                ProjectId = reviewed.ProjectId,
                DatasetId = version.Id,
                ContentSha256 = version.ContentSha256,
                Folder = Path.GetRelativePath(paths.Jobs, version.Folder).Replace('\\', '/'),
                CreatedAt = clock.GetUtcNow(),
                CreatedBy = user,
                Task = version.Task.ToString(),
                Sources = version.Sources.Count,
                Records = version.Total.Records,
                Characters = version.Total.Characters,
                EstimatedTokens = version.Total.EstimatedTokens,
                TrainRecords = version.Train.Records,
                ValidationRecords = version.Validation.Records,
                ExactDuplicatesRemoved = version.ExactDuplicatesRemoved,
                NearDuplicatesRemoved = version.NearDuplicatesRemoved,
                RedactionCountsJson = JsonSerializer.Serialize(version.RedactionCounts, DatasetVersion.Json),
                SettingsJson = JsonSerializer.Serialize(version.Settings, DatasetVersion.Json),
                SourcesJson = JsonSerializer.Serialize(version.Sources, DatasetVersion.Json),
            };
            db.DatasetVersions.Add(record);
            await db.SaveChangesAsync(ct);
        }
        await db.Projects.Where(p => p.Id == reviewed.ProjectId).ExecuteUpdateAsync(s => s.SetProperty(p => p.DatasetVersionId, record.Id), ct);
        await audit.RecordAsync(Security.AuditActions.Freeze, $"dataset version {record.Id} ({record.Records:N0} records, {record.Characters:N0} characters)", reviewed.ProjectId, user);
        logger.LogInformation("Project {ProjectId} froze dataset version {DatasetId} ({Records} records, {Characters} characters)",
            reviewed.ProjectId, version.Id, record.Records, record.Characters);
        return record;
    }

    /// <summary>
    /// The project's current dataset version; when the data changed since the last freeze (or it was never frozen),
    /// extracts what is waiting and freezes the data as it is now, with the project's switches.
    /// </summary>
    public async Task<DatasetVersionRecord> CurrentDatasetAsync(int projectId, string user, CancellationToken ct = default)
    {
        await using (var db = await dbFactory.CreateDbContextAsync(ct))
        {
            var project = await db.Projects.SingleAsync(p => p.Id == projectId, ct);
            if (project.DatasetVersionId is { } id && await db.DatasetVersions.SingleOrDefaultAsync(d => d.Id == id, ct) is { } current) return current;
            if (!await db.DataFiles.AnyAsync(f => f.ProjectId == projectId, ct))
                throw new UserFacingException("This project has no usable documents. Go back to the Data step and upload some files.");
        }
        await ExtractAsync(projectId, ct);
        return await FreezeAsync(await ReviewAsync(projectId, null, ct), user, ct);
    }

    public string FolderOf(DatasetVersionRecord record) => Path.GetFullPath(Path.Combine(paths.Jobs, record.Folder));
}

/// <summary>What a freeze stage means to the person waiting for it.</summary>
public static class FreezeStages
{
    public static string Describe(DataProgress p) => p.Stage switch
    {
        "passages" => "Splitting the documents into passages for search…",
        "index" => p.Total > 0 ? $"Building the search index: {p.Done} of {p.Total} passages…" : "Building the search index…",
        _ => "Writing the dataset version…",
    };
}
