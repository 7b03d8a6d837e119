using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using SlmStudio.Core.Data;
using SlmStudio.Web.Data;
using SlmStudio.Web.Options;

namespace SlmStudio.Web.Services;

/// <summary>Figures the data step shows for a project.</summary>
public sealed record DataStatistics(int Files, int UsableFiles, int WaitingFiles, long Characters, long EstimatedTokens, int Records,
    IReadOnlyDictionary<string, int> LabelCounts, int MinimumCharacters)
{
    public bool Enough => Characters >= MinimumCharacters;
}

/// <summary>What became of one upload: the stored file, or the problem that kept it out (then nothing was kept).</summary>
public sealed record UploadOutcome(DataFile? File, DataProblem? Problem);

/// <summary>
/// Stores uploads (TXT, MD, PDF, DOCX, CSV, JSONL, HTML): streamed to disk under a generated name, never held in memory
/// whole, checked by the engine (size, content sniffing, zip bombs) before a row is written. A refused upload leaves no
/// file and no row. Extraction happens afterwards, off the page's thread, in <see cref="DataPreparation"/>.
/// </summary>
public sealed class DataUploads(IDbContextFactory<StudioDbContext> dbFactory, StudioPaths paths, IOptions<StudioOptions> options, IOptions<RetentionOptions> retention, TimeProvider clock, Security.AuditLog audit, ILogger<DataUploads> logger)
{
    public const string ExtractedSuffix = ".extracted.json";

    public long MaxBytes => options.Value.MaxUploadMegabytes * 1024L * 1024L;
    public int MinimumCharacters => options.Value.MinimumTrainingCharacters;

    public DataLimits Limits => DataLimits.Default with
    {
        MaxFileBytes = MaxBytes,
        MaxUncompressedBytes = options.Value.MaxUncompressedMegabytes * 1024L * 1024L,
        ParseTimeout = TimeSpan.FromSeconds(options.Value.ParseTimeoutSeconds),
        ParseMemoryBytes = options.Value.ParseMemoryMegabytes * 1024L * 1024L,
    };

    /// <summary>The configured extensions the engine can also read, such as ".txt", ".pdf".</summary>
    public IReadOnlyList<string> AcceptedExtensions => [.. options.Value.UploadExtensions
        .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        .Select(e => (e.StartsWith('.') ? e : "." + e).ToLowerInvariant())
        .Where(FileInspector.AllowedExtensions.Contains)
        .Distinct()];

    /// <summary>For the file picker's accept attribute.</summary>
    public string AcceptAttribute => string.Join(",", AcceptedExtensions);

    /// <summary>"TXT, MD, PDF, …" for sentences.</summary>
    public string AcceptedList => string.Join(", ", AcceptedExtensions.Where(e => e != ".htm").Select(e => e.TrimStart('.').ToUpperInvariant()));

    /// <summary>How long originals are kept after freezing, in one sentence for the data step.</summary>
    public string RetentionPolicy => retention.Value.Describe();

    /// <summary>Why something that needs the original cannot be done any more, for files the retention policy cleared.</summary>
    public static string OriginalDeletedMessage(DataFile file) =>
        $"The original of {SafeFileName.ForDisplay(file.OriginalName)} was deleted{(file.OriginalDeletedAt is { } at ? $" on {at:yyyy-MM-dd}" : "")} after its data was frozen, as your administrator's retention policy asks. The frozen dataset version still has its text; to change how it is read, upload the file again.";

    public string FolderOf(int projectId) => paths.Uploads(projectId);
    public string StoredPath(DataFile file) => Path.Combine(paths.Uploads(file.ProjectId), file.StoredName);
    public string ExtractedPath(DataFile file) => StoredPath(file) + ExtractedSuffix;

    public async Task<UploadOutcome> SaveAsync(int projectId, string originalName, Stream content, CancellationToken ct)
    {
        var display = SafeFileName.ForDisplay(originalName);
        var ext = SafeFileName.Extension(originalName);
        if (!AcceptedExtensions.Contains(ext))
            return new(null, new DataProblem(display, null, ProblemSeverity.Error,
                ext.Length == 0 ? "The file has no extension, so its type is unknown." : $"Files of type '{ext}' are not accepted here.",
                $"Save or export it as one of {AcceptedList} and upload that."));

        var limits = Limits;
        var (stored, problem) = await UploadStore.SaveAsync(content, originalName, paths.Uploads(projectId), limits, ct);
        if (stored is null) return new(null, problem);
        var keep = false;
        try
        {
            var check = FileInspector.Inspect(stored, originalName, limits);
            if (!check.IsAccepted)
                return new(null, check.Problems.FirstOrDefault(p => p.Severity == ProblemSeverity.Error)
                    ?? new DataProblem(display, null, ProblemSeverity.Error, "This file cannot be read.", $"Upload one of {AcceptedList}."));

            string? mapping = null;
            if (check.Kind is DocumentKind.Csv or DocumentKind.Jsonl)
            {
                // The suggested text column lets the file go through at once; the mapping step can change it.
                var preview = DocumentExtractor.PreviewTable(stored, originalName, limits);
                // "Sort and route" keeps the suggested label column too (when the file has a usual one, such as "label").
                UseCase useCase;
                await using (var projects = await dbFactory.CreateDbContextAsync(ct))
                    useCase = await projects.Projects.Where(p => p.Id == projectId).Select(p => p.UseCase).SingleOrDefaultAsync(ct);
                mapping = (useCase == UseCase.SortAndRoute && preview.SuggestedMapping is { LabelColumn: not null } labelled ? labelled
                    // "Answer questions" keeps the suggested question and answer columns (such as "question" and "answer").
                    : useCase == UseCase.AnswerQuestions && preview.SuggestedMapping is { PromptColumn: not null, ResponseColumn: not null } pairs ? pairs
                    : SuggestedTextMapping(preview))?.ToString();
            }
            var (sha, bytes) = DocumentExtractor.HashFile(stored);
            var file = new DataFile
            {
                ProjectId = projectId,
                OriginalName = originalName,
                StoredName = Path.GetFileName(stored),
                Kind = check.Kind.ToString(),
                Status = DataFileStatus.Waiting,
                Mapping = mapping,
                Bytes = bytes,
                Sha256 = sha,
                UploadedAt = clock.GetUtcNow(),
            };
            await using var db = await dbFactory.CreateDbContextAsync(ct);
            db.DataFiles.Add(file);
            // The project's frozen dataset no longer describes its data.
            await db.Projects.Where(p => p.Id == projectId).ExecuteUpdateAsync(s => s.SetProperty(p => p.DatasetVersionId, (int?)null), ct);
            await db.SaveChangesAsync(ct);
            keep = true;
            await audit.RecordAsync(Security.AuditActions.Upload, $"'{display}' ({bytes:N0} bytes, file {file.Id})", projectId);
            logger.LogInformation("Project {ProjectId} received {FileName} as {StoredName} ({Kind}, {Bytes} bytes)", projectId, display, file.StoredName, check.Kind, bytes);
            return new(file, null);
        }
        finally
        {
            if (!keep && File.Exists(stored)) File.Delete(stored);
        }
    }

    /// <summary>Only the text column of the engine's suggestion: "Write like us" learns from text alone.</summary>
    public static ColumnMapping? SuggestedTextMapping(TabularPreview preview) =>
        preview.SuggestedTextColumn is { } column ? ColumnMapping.Text(column) : null;

    /// <summary>The first rows of a CSV/JSONL upload for the column step, with personal data in the cells redacted.</summary>
    public TabularPreview PreviewTable(DataFile file)
    {
        // A page opened before the sweep still holds the row as it was: the missing file says the same.
        if (file.OriginalDeletedAt is not null || !File.Exists(StoredPath(file))) throw new UserFacingException(OriginalDeletedMessage(file));
        var preview = DocumentExtractor.PreviewTable(StoredPath(file), file.OriginalName, Limits);
        return preview with { FirstRows = [.. preview.FirstRows.Select(row => (IReadOnlyList<string>)[.. row.Select(RedactedPreview)])] };
    }

    /// <summary>The project's uploads in the order they arrived, with previews redacted (rows stored before previews
    /// were redacted on the way in included).</summary>
    public async Task<List<DataFile>> FilesAsync(int projectId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var files = await db.DataFiles.AsNoTracking().Where(f => f.ProjectId == projectId).OrderBy(f => f.Id).ToListAsync(ct);
        foreach (var f in files) f.Preview = RedactedPreview(f.Preview);
        return files;
    }

    /// <summary>
    /// A preview with personal data replaced by placeholders such as [EMAIL], whatever the project's redaction switch:
    /// the preview is stored in the database and shown to everyone who opens the data step. When the search for
    /// personal data fails on the text, no preview is kept rather than an unredacted one.
    /// </summary>
    public static string RedactedPreview(string preview)
    {
        if (string.IsNullOrEmpty(preview)) return preview;
        try { return PreviewRedactor.Redact(preview).Text; }
        catch (Core.EngineException) { return "(No preview: this text could not be checked for personal data.)"; }
    }

    private static readonly Redactor PreviewRedactor = new();

    public async Task<DataStatistics> StatisticsAsync(int projectId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var files = await db.DataFiles.Where(f => f.ProjectId == projectId).ToListAsync(ct);
        var usable = Usable(files).ToList();
        var labels = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var f in usable)
        foreach (var (k, v) in LabelCounts(f))
            labels[k] = labels.GetValueOrDefault(k) + v;
        return new DataStatistics(files.Count, usable.Count, files.Count(f => f.Status == DataFileStatus.Waiting),
            usable.Sum(f => f.Characters), usable.Sum(f => f.EstimatedTokens), usable.Sum(f => f.Records), labels, MinimumCharacters);
    }

    /// <summary>Extracted files with text and without an error; a second copy of the same content counts once.</summary>
    public static IEnumerable<DataFile> Usable(IEnumerable<DataFile> files)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var f in files.OrderBy(f => f.Id))
            if (f.Status == DataFileStatus.Ready && f.Problem is null && f.Records > 0 && seen.Add(f.Sha256)) yield return f;
    }

    /// <summary>What the engine found wrong with the file. When the stored findings (or label counts) cannot be read
    /// back, that is said as a problem of its own, so the user sees why the file looks incomplete and what to do.</summary>
    public static IReadOnlyList<DataProblem> Problems(DataFile f)
    {
        var readable = TryRead<List<DataProblem>>(f.ProblemsJson, out var problems);
        problems ??= [];
        if (!readable || !TryRead<Dictionary<string, int>>(f.LabelCountsJson, out _)) problems.Add(DamagedDetails(f));
        return problems;
    }

    /// <summary>Label -> records; empty when the stored counts are damaged (<see cref="Problems"/> then tells the user).</summary>
    public static IReadOnlyDictionary<string, int> LabelCounts(DataFile f) =>
        TryRead<Dictionary<string, int>>(f.LabelCountsJson, out var counts) ? counts ?? [] : [];

    private static DataProblem DamagedDetails(DataFile f) => new(SafeFileName.ForDisplay(f.OriginalName), null, ProblemSeverity.Warning,
        "The details saved about this file could not be read back, so some of its findings or label counts are not shown.",
        "Remove the file and upload it again.");

    private static bool TryRead<T>(string json, out T? value)
    {
        value = default;
        if (string.IsNullOrEmpty(json)) return true;
        try { value = JsonSerializer.Deserialize<T>(json, DatasetVersion.Json); return true; }
        catch (JsonException) { return false; }
    }

    /// <summary>Removes one upload: its row, its stored bytes and its extracted text. Frozen dataset versions are copies and stay intact.</summary>
    public async Task DeleteAsync(int fileId)
    {
        await using var db = await dbFactory.CreateDbContextAsync();
        var file = await db.DataFiles.FindAsync(fileId);
        if (file is null) return;
        db.DataFiles.Remove(file);
        await db.Projects.Where(p => p.Id == file.ProjectId).ExecuteUpdateAsync(s => s.SetProperty(p => p.DatasetVersionId, (int?)null));
        await db.SaveChangesAsync();
        foreach (var path in new[] { StoredPath(file), ExtractedPath(file) })
            if (File.Exists(path)) File.Delete(path);
        await audit.RecordAsync(Security.AuditActions.FileDeleted, $"'{SafeFileName.ForDisplay(file.OriginalName)}' (file {file.Id}) and its extracted text", file.ProjectId);
        logger.LogInformation("Project {ProjectId}: removed {StoredName}", file.ProjectId, file.StoredName);
    }

    /// <summary>Sets a CSV/JSONL file's column mapping; the file is read again with it.</summary>
    public async Task SetMappingAsync(int fileId, ColumnMapping mapping)
    {
        await using var db = await dbFactory.CreateDbContextAsync();
        var file = await db.DataFiles.SingleAsync(f => f.Id == fileId);
        if (file.OriginalDeletedAt is not null) throw new UserFacingException(OriginalDeletedMessage(file));
        file.Mapping = mapping.ToString();
        file.Status = DataFileStatus.Waiting;
        await db.Projects.Where(p => p.Id == file.ProjectId).ExecuteUpdateAsync(s => s.SetProperty(p => p.DatasetVersionId, (int?)null));
        await db.SaveChangesAsync();
    }

    /// <summary>Stores the sample company documents that ship with the portal (they are extracted like any upload).</summary>
    public async Task<int> AddSampleDataAsync(int projectId, CancellationToken ct)
    {
        var folder = Path.Combine(AppContext.BaseDirectory, "SampleData");
        var count = 0;
        foreach (var file in Directory.EnumerateFiles(folder, "*.*", SearchOption.AllDirectories)
                     .Where(f => AcceptedExtensions.Contains(Path.GetExtension(f).ToLowerInvariant())).Order(StringComparer.Ordinal))
        {
            await using var stream = File.OpenRead(file);
            if ((await SaveAsync(projectId, Path.GetFileName(file), stream, ct)).File is not null) count++;
        }
        return count;
    }
}
