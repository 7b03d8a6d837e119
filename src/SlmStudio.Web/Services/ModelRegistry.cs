using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using SlmStudio.Web.Data;
using SlmStudio.Web.Options;

namespace SlmStudio.Web.Services;

/// <summary>
/// The registry: append-only numbered versions per project, each a folder of artifacts with a manifest of SHA-256
/// hashes, and movable aliases such as "production".
/// </summary>
public sealed class ModelRegistry(IDbContextFactory<StudioDbContext> dbFactory, StudioPaths paths, TimeProvider clock, ILogger<ModelRegistry> logger)
{
    public const string ManifestFile = "manifest.json";
    public const string Production = "production";

    public static string CodeVersion { get; } =
        typeof(ModelRegistry).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion ?? "unknown";

    /// <summary>Moves a staged artifact folder into the registry as the project's next version.</summary>
    public async Task<ModelVersion> RegisterAsync(TrainingRun run, string stagedFolder, Func<ModelVersion, Task>? enrich = null, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var existing = await db.ModelVersions.SingleOrDefaultAsync(v => v.RunId == run.Id, ct);
        if (existing is not null) return existing; // registering twice is a no-op: versions are immutable

        var number = (await db.ModelVersions.Where(v => v.ProjectId == run.ProjectId).MaxAsync(v => (int?)v.Number, ct) ?? 0) + 1;
        var relative = Path.Combine($"project-{run.ProjectId}", $"v{number}");
        var folder = Path.Combine(paths.Models, relative);
        if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true); // leftover of a registration that died before its row was saved
        Directory.CreateDirectory(Path.GetDirectoryName(folder)!);
        Directory.Move(stagedFolder, folder);

        var manifest = WriteManifest(folder);
        var parity = ParityOf(folder);
        var version = new ModelVersion
        {
            ProjectId = run.ProjectId,
            Number = number,
            RunId = run.Id,
            CreatedAt = clock.GetUtcNow(),
            CreatedBy = run.CreatedBy,
            Folder = relative,
            CodeVersion = CodeVersion,
            ValLoss = run.ValLoss,
            Perplexity = run.Perplexity,
            BitsPerChar = run.BitsPerChar,
            Parameters = run.Parameters,
            ManifestJson = JsonSerializer.Serialize(manifest),
            ParityResult = parity,
            SettingsJson = JsonSerializer.Serialize(new
            {
                run.Preset, run.VocabSize, run.BaseVersionId, run.Minutes, MaxSteps = run.MaxStepsSetting, run.Seed, run.EvalEvery, run.Device,
            }),
        };
        if (enrich is not null) await enrich(version);
        db.ModelVersions.Add(version);
        await db.SaveChangesAsync(ct);
        logger.LogInformation("Registered version {Number} of project {ProjectId} from run {RunId}", number, run.ProjectId, run.Id);
        return version;
    }

    /// <summary>
    /// Reads the exporter's manifest.json (files with their SHA-256) and checks every listed file against it; writes
    /// one in the same shape when the folder has none. Returns path -> SHA-256.
    /// </summary>
    public static SortedDictionary<string, string> WriteManifest(string folder)
    {
        var path = Path.Combine(folder, ManifestFile);
        var manifest = new SortedDictionary<string, string>(StringComparer.Ordinal);
        if (File.Exists(path))
        {
            // The exporter's manifest: {"files":[{"path","sha256","bytes"}], ...}.
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            foreach (var f in doc.RootElement.GetProperty("files").EnumerateArray())
                manifest[f.GetProperty("path").GetString()!] = f.GetProperty("sha256").GetString()!;
            var wrong = manifest.Where(kv => !File.Exists(Path.Combine(folder, kv.Key)) || Sha256Of(Path.Combine(folder, kv.Key)) != kv.Value).Select(kv => kv.Key).ToList();
            if (wrong.Count > 0)
                throw new InvalidDataException($"The exported files do not match their manifest: {string.Join(", ", wrong)}.");
            return manifest;
        }
        var files = new List<object>();
        foreach (var file in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var name = Path.GetRelativePath(folder, file).Replace('\\', '/');
            manifest[name] = Sha256Of(file);
            files.Add(new { path = name, sha256 = manifest[name], bytes = new FileInfo(file).Length });
        }
        Core.AtomicFile.WriteAllText(path, JsonSerializer.Serialize(new { files }, new JsonSerializerOptions { WriteIndented = true }));
        return manifest;
    }

    /// <summary>The exporter's parity verdict from manifest.json, in words; null when it recorded none.</summary>
    public static string? ParityOf(string folder)
    {
        var path = Path.Combine(folder, ManifestFile);
        if (!File.Exists(path)) return null;
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        if (!doc.RootElement.TryGetProperty("parity", out var p) || p.ValueKind != JsonValueKind.Object) return null;
        var passed = p.TryGetProperty("passed", out var ok) && ok.ValueKind == JsonValueKind.True;
        var diff = Math.Max(p.TryGetProperty("prefillMaxAbsDiff", out var a) ? a.GetDouble() : 0, p.TryGetProperty("decodeMaxAbsDiff", out var b) ? b.GetDouble() : 0);
        var tolerance = p.TryGetProperty("tolerance", out var t) ? t.GetDouble() : 0;
        return $"{(passed ? "Passed" : "FAILED")}: ONNX and training model logits differ by at most {diff:G3} (tolerance {tolerance:G3})";
    }

    public static string Sha256Of(string file)
    {
        using var stream = File.OpenRead(file);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>Checks every artifact against the recorded hashes; returns the names that do not match.</summary>
    public List<string> Verify(ModelVersion version)
    {
        var folder = Path.Combine(paths.Models, version.Folder);
        var manifest = JsonSerializer.Deserialize<Dictionary<string, string>>(version.ManifestJson) ?? [];
        return manifest.Where(kv => !File.Exists(Path.Combine(folder, kv.Key)) || Sha256Of(Path.Combine(folder, kv.Key)) != kv.Value)
            .Select(kv => kv.Key).ToList();
    }

    public string FolderOf(ModelVersion version) => Path.Combine(paths.Models, version.Folder);

    /// <summary>Writes the version's folder to a temporary zip file that deletes itself when the returned stream closes.</summary>
    public Stream OpenZip(ModelVersion version)
    {
        var folder = FolderOf(version);
        var temp = Path.Combine(Path.GetTempPath(), $"slm-{Guid.NewGuid():N}.zip");
        ZipFile.CreateFromDirectory(folder, temp, CompressionLevel.Fastest, includeBaseDirectory: false);
        return new FileStream(temp, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 81920, FileOptions.DeleteOnClose);
    }

    /// <summary>Points the alias at a version of the same project; moving it is the only change a registry allows.</summary>
    public async Task SetAliasAsync(int versionId, string alias)
    {
        await using var db = await dbFactory.CreateDbContextAsync();
        var version = await db.ModelVersions.SingleAsync(v => v.Id == versionId);
        var row = await db.Aliases.SingleOrDefaultAsync(a => a.ProjectId == version.ProjectId && a.Name == alias);
        if (row is null) db.Aliases.Add(new ModelAlias { ProjectId = version.ProjectId, Name = alias, ModelVersionId = versionId, UpdatedAt = clock.GetUtcNow() });
        else { row.ModelVersionId = versionId; row.UpdatedAt = clock.GetUtcNow(); }
        await db.SaveChangesAsync();
    }
}
