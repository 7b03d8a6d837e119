using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using SlmStudio.Core.Data;
using SlmStudio.Web.Data;
using SlmStudio.Web.Options;

namespace SlmStudio.Web.Services;

/// <summary>Figures the data step shows for a project.</summary>
public sealed record DataStatistics(int Files, int UsableFiles, long Characters, long EstimatedTokens, int MinimumCharacters)
{
    public bool Enough => Characters >= MinimumCharacters;
}

/// <summary>
/// Stores uploaded TXT/MD files: streamed to disk under a generated name (never held in memory whole), then inspected
/// and decoded by the engine's data pipeline (SlmStudio.Core.Data). The original name is kept only as data.
/// </summary>
public sealed class DataUploads(IDbContextFactory<StudioDbContext> dbFactory, StudioPaths paths, IOptions<StudioOptions> options, TimeProvider clock, ILogger<DataUploads> logger)
{
    public static readonly string[] AllowedExtensions = [".txt", ".md"];
    public long MaxBytes => options.Value.MaxUploadMegabytes * 1024L * 1024L;
    public int MinimumCharacters => options.Value.MinimumTrainingCharacters;

    public async Task<DataFile> SaveAsync(int projectId, string originalName, Stream content, CancellationToken ct)
    {
        var name = Path.GetFileName(originalName);
        var ext = Path.GetExtension(name).ToLowerInvariant();
        if (!AllowedExtensions.Contains(ext))
            throw new Jobs.UserFacingException($"'{name}' is not a text file this step accepts. Upload .txt or .md files.");

        var folder = paths.Uploads(projectId);
        Directory.CreateDirectory(folder);
        var stored = $"{Guid.NewGuid():N}{ext}";
        var path = Path.Combine(folder, stored);
        var temp = path + ".part";
        try
        {
            long bytes = 0;
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            await using (var output = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 81920, useAsync: true))
            {
                var buffer = new byte[81920];
                int read;
                while ((read = await content.ReadAsync(buffer, ct)) > 0)
                {
                    bytes += read;
                    if (bytes > MaxBytes)
                        throw new Jobs.UserFacingException($"'{name}' is larger than the {options.Value.MaxUploadMegabytes} MB limit. Split it into smaller files.");
                    sha.AppendData(buffer, 0, read);
                    await output.WriteAsync(buffer.AsMemory(0, read), ct);
                }
            }
            // The engine's data pipeline sniffs the content (a renamed binary is refused), detects the encoding and
            // cleans the text; the stored copy is that text as UTF-8, which is what training reads.
            var limits = DataLimits.Default with { MaxFileBytes = MaxBytes };
            var document = await DocumentExtractor.ExtractAsync(temp, name, null, limits, ct);
            var error = document.Problems.FirstOrDefault(p => p.Severity == ProblemSeverity.Error);
            string? problem = null;
            long characters = 0;
            if (!document.IsUsable)
            {
                problem = error is null ? $"'{name}' contains no text. Upload a file that contains text." : $"{error.Message} {error.Fix}";
                File.Move(temp, path);
            }
            else
            {
                var text = string.Join("\n\n", document.Records.Select(r => r.Text));
                await File.WriteAllTextAsync(path, text, new UTF8Encoding(false), ct);
                characters = text.Length;
            }
            var file = new DataFile
            {
                ProjectId = projectId,
                OriginalName = name,
                StoredName = stored,
                Bytes = bytes,
                Characters = characters,
                EstimatedTokens = TokenEstimate.FromCharacters(characters),
                Problem = problem,
                Sha256 = Convert.ToHexStringLower(sha.GetHashAndReset()),
                UploadedAt = clock.GetUtcNow(),
            };
            await using var db = await dbFactory.CreateDbContextAsync(ct);
            db.DataFiles.Add(file);
            await db.SaveChangesAsync(ct);
            logger.LogInformation("Project {ProjectId} received {FileName} ({Bytes} bytes, {Characters} characters)", projectId, name, bytes, characters);
            return file;
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    public async Task<DataStatistics> StatisticsAsync(int projectId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var files = await db.DataFiles.Where(f => f.ProjectId == projectId).ToListAsync(ct);
        var usable = files.Where(f => f.Problem is null).ToList();
        return new DataStatistics(files.Count, usable.Count, usable.Sum(f => f.Characters), usable.Sum(f => f.EstimatedTokens), MinimumCharacters);
    }

    /// <summary>The first characters of a stored file, for the preview.</summary>
    public async Task<string> PreviewAsync(DataFile file, int characters = 600)
    {
        var path = Path.Combine(paths.Uploads(file.ProjectId), file.StoredName);
        if (file.Problem is not null || !File.Exists(path)) return "";
        using var reader = new StreamReader(path, Encoding.UTF8);
        var buffer = new char[characters];
        var read = await reader.ReadBlockAsync(buffer.AsMemory());
        return new string(buffer, 0, read);
    }

    public async Task DeleteAsync(int fileId)
    {
        await using var db = await dbFactory.CreateDbContextAsync();
        var file = await db.DataFiles.FindAsync(fileId);
        if (file is null) return;
        db.DataFiles.Remove(file);
        await db.SaveChangesAsync();
        var path = Path.Combine(paths.Uploads(file.ProjectId), file.StoredName);
        if (File.Exists(path)) File.Delete(path);
    }

    /// <summary>Loads the sample company documents that ship with the portal.</summary>
    public async Task<int> AddSampleDataAsync(int projectId, CancellationToken ct)
    {
        var folder = Path.Combine(AppContext.BaseDirectory, "SampleData");
        var count = 0;
        foreach (var file in Directory.EnumerateFiles(folder, "*.*", SearchOption.AllDirectories)
                     .Where(f => AllowedExtensions.Contains(Path.GetExtension(f).ToLowerInvariant())).Order(StringComparer.Ordinal))
        {
            await using var stream = File.OpenRead(file);
            await SaveAsync(projectId, Path.GetFileName(file), stream, ct);
            count++;
        }
        return count;
    }
}
