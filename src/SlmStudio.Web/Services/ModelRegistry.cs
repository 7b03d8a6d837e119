using System.IO.Compression;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using SlmStudio.Core.Artifacts;
using SlmStudio.Web.Data;
using SlmStudio.Web.Security;
using SlmStudio.Web.Options;

namespace SlmStudio.Web.Services;

/// <summary>What the models page lists.</summary>
public sealed record RegistryContents(List<Project> Projects, List<ModelAlias> Aliases);

/// <summary>A version to pick in a list.</summary>
public sealed record VersionChoice(int Id, string Label);

/// <summary>
/// The registry: append-only numbered versions per project, each a folder of artifacts with a manifest of SHA-256
/// hashes, and movable aliases such as "production".
/// </summary>
public sealed class ModelRegistry(IDbContextFactory<StudioDbContext> dbFactory, StudioPaths paths, TimeProvider clock, ILogger<ModelRegistry> logger)
{
    public const string ManifestFile = ArtifactManifest.FileName;
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
        var projectName = await db.Projects.Where(p => p.Id == run.ProjectId).Select(p => p.Name).SingleAsync(ct);
        Core.Export.ModelCard.Retitle(folder, $"{projectName} — version {number}");

        var manifest = CheckedManifest(folder);
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
            // path -> SHA-256, the shape the registry has always stored and the lineage view shows.
            ManifestJson = JsonSerializer.Serialize(new SortedDictionary<string, string>(manifest.Files.ToDictionary(f => f.Path, f => f.Sha256), StringComparer.Ordinal)),
            ParityResult = ParityOf(manifest),
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
    /// The exporter's manifest of a folder, after checking every listed file against it; a folder that does not match
    /// is refused, so the registry never records hashes of files that were changed after export.
    /// </summary>
    public static ArtifactManifest CheckedManifest(string folder)
    {
        var manifest = ArtifactManifest.Load(folder);
        var wrong = manifest.Mismatches(folder);
        if (wrong.Count > 0)
            throw new InvalidDataException($"The exported files do not match their manifest: {string.Join(", ", wrong)}.");
        return manifest;
    }

    /// <summary>The exporter's parity verdict in words; null when it recorded none.</summary>
    public static string? ParityOf(ArtifactManifest manifest) => manifest.Parity is not { } p ? null
        : $"{(p.Passed ? "Passed" : "FAILED")}: ONNX and training model logits differ by at most {Math.Max(p.PrefillMaxAbsDiff, p.DecodeMaxAbsDiff):G3} (tolerance {p.Tolerance:G3})";

    /// <summary>Checks every artifact against the hashes recorded when the version was registered (not the folder's
    /// own manifest.json, which could have been edited with the files); returns the names that do not match.</summary>
    public List<string> Verify(ModelVersion version)
    {
        var folder = FolderOf(version);
        var recorded = JsonSerializer.Deserialize<Dictionary<string, string>>(version.ManifestJson) ?? [];
        return recorded.Where(kv => !File.Exists(Path.Combine(folder, kv.Key)) || ArtifactManifest.Sha256Of(Path.Combine(folder, kv.Key)) != kv.Value)
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

    /// <summary>Every project with its versions (and their dataset versions), by name, and every alias.</summary>
    public async Task<RegistryContents> ContentsAsync(CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var projects = await db.VisibleProjects().Include(p => p.Versions).ThenInclude(v => v.DatasetVersion).OrderBy(p => p.Name).ToListAsync(ct);
        return new RegistryContents(projects, await db.Aliases.Where(a => db.VisibleProjects().Any(p => p.Id == a.ProjectId)).ToListAsync(ct));
    }

    /// <summary>Every version as "Project — version N", ordered by project and number.</summary>
    public async Task<List<VersionChoice>> ChoicesAsync(CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.ModelVersions.Where(v => db.VisibleProjects().Any(p => p.Id == v.ProjectId)).Include(v => v.Project).OrderBy(v => v.ProjectId).ThenBy(v => v.Number)
            .Select(v => new VersionChoice(v.Id, v.Project!.Name + " — version " + v.Number)).ToListAsync(ct);
    }

    /// <summary>The project's versions, oldest first.</summary>
    public async Task<List<ModelVersion>> VersionsOfAsync(int projectId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.ModelVersions.Where(v => v.ProjectId == projectId && db.VisibleProjects().Any(p => p.Id == v.ProjectId)).OrderBy(v => v.Number).ToListAsync(ct);
    }

    /// <summary>The version with its project; null when it does not exist.</summary>
    public async Task<ModelVersion?> FindAsync(int versionId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.ModelVersions.Where(v => db.VisibleProjects().Any(p => p.Id == v.ProjectId)).Include(v => v.Project).SingleOrDefaultAsync(v => v.Id == versionId, ct);
    }

    /// <summary>Makes the version production when its project has no production version yet; never moves an alias a
    /// person set. Returns whether it did.</summary>
    public async Task<bool> MakeProductionIfNoneAsync(int versionId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var version = await db.ModelVersions.SingleAsync(v => v.Id == versionId, ct);
        if (await db.Aliases.AnyAsync(a => a.ProjectId == version.ProjectId && a.Name == Production, ct)) return false;
        db.Aliases.Add(new ModelAlias { ProjectId = version.ProjectId, Name = Production, ModelVersionId = versionId, UpdatedAt = clock.GetUtcNow() });
        await db.SaveChangesAsync(ct);
        return true;
    }

    /// <summary>Points the alias at a version of the same project; moving it is the only change a registry allows.</summary>
    public async Task SetAliasAsync(int versionId, string alias)
    {
        await using var db = await dbFactory.CreateDbContextAsync();
        var version = await db.ModelVersions.SingleAsync(v => v.Id == versionId);
        await StudioUserContext.EnsureCanBuildAsync(db, version.ProjectId);
        var row = await db.Aliases.SingleOrDefaultAsync(a => a.ProjectId == version.ProjectId && a.Name == alias);
        if (row is null) db.Aliases.Add(new ModelAlias { ProjectId = version.ProjectId, Name = alias, ModelVersionId = versionId, UpdatedAt = clock.GetUtcNow() });
        else { row.ModelVersionId = versionId; row.UpdatedAt = clock.GetUtcNow(); }
        await db.SaveChangesAsync();
    }
}
