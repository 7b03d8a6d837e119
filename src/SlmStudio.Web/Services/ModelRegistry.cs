using System.IO.Compression;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using SlmStudio.Core.Artifacts;
using SlmStudio.Core.Models;
using SlmStudio.Web.Data;
using SlmStudio.Web.Security;
using SlmStudio.Web.Options;

namespace SlmStudio.Web.Services;

/// <summary>What the models page lists.</summary>
public sealed record RegistryContents(List<Project> Projects, List<ModelAlias> Aliases);

/// <summary>A version to pick in a list.</summary>
public sealed record VersionChoice(int Id, string Label);

/// <summary>A file added to a version's zip beside the registered ones (such as its data's search index), checked against <paramref name="Sha256"/> while it is sent.</summary>
public sealed record ZipExtraFile(string EntryName, string Path, string Sha256);

/// <summary>
/// The registry: append-only numbered versions per project, each a folder of artifacts with a manifest of SHA-256
/// hashes, and movable aliases such as "production".
/// </summary>
public sealed class ModelRegistry(IDbContextFactory<StudioDbContext> dbFactory, StudioPaths paths, TimeProvider clock, AuditLog audit, ILogger<ModelRegistry> logger)
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
        await audit.RecordAsync(AuditActions.Registered, $"version {number} from run {run.Id}", run.ProjectId);
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

    /// <summary>The path -> SHA-256 the database recorded when the version was registered.</summary>
    public static IReadOnlyDictionary<string, string> RecordedHashes(ModelVersion version) =>
        JsonSerializer.Deserialize<Dictionary<string, string>>(version.ManifestJson) ?? [];

    /// <summary>Checks every artifact against the hashes recorded when the version was registered (not the folder's
    /// own manifest.json, which could have been edited with the files), and that manifest.json still lists exactly
    /// those hashes; returns the names that do not match.</summary>
    public List<string> Verify(ModelVersion version)
    {
        var folder = FolderOf(version);
        var recorded = RecordedHashes(version);
        var wrong = recorded.Where(kv => !File.Exists(Path.Combine(folder, kv.Key)) || !string.Equals(ArtifactManifest.Sha256Of(Path.Combine(folder, kv.Key)), kv.Value, StringComparison.OrdinalIgnoreCase))
            .Select(kv => kv.Key).ToList();
        if (!ManifestAgrees(folder, recorded)) wrong.Add(ManifestFile);
        return wrong;
    }

    private static bool ManifestAgrees(string folder, IReadOnlyDictionary<string, string> recorded)
    {
        try
        {
            var listed = ArtifactManifest.Load(folder).Files;
            return listed.Count == recorded.Count && listed.All(f => recorded.TryGetValue(f.Path, out var sha) && string.Equals(sha, f.Sha256, StringComparison.OrdinalIgnoreCase));
        }
        catch (InvalidModelFileException) { return false; }
    }

    /// <summary>
    /// Refuses a version whose files are not the ones registered, before it is loaded or downloaded: writes an audit
    /// entry and throws <see cref="TamperedArtifactException"/> with a message for people (no server paths).
    /// </summary>
    public async Task EnsureIntactAsync(ModelVersion version, string purpose, CancellationToken ct = default)
    {
        var wrong = await Task.Run(() => Verify(version), ct);
        if (wrong.Count > 0) throw await RefuseAsync(version, purpose, wrong);
    }

    /// <summary>
    /// Checks that an opened artifact is the registered one: every file the loader read was checked against the
    /// folder's manifest.json while loading, so it is enough that the manifest lists the recorded hash for each of them.
    /// </summary>
    public async Task EnsureLoadedFilesAreRegisteredAsync(ModelVersion version, Core.Inference.OnnxArtifact artifact)
    {
        var recorded = RecordedHashes(version);
        var wrong = artifact.LoadedFiles.Where(f => f != ManifestFile)
            .Where(f => !recorded.TryGetValue(f, out var sha) || !string.Equals(sha, artifact.Manifest.Entry(f).Sha256, StringComparison.OrdinalIgnoreCase))
            .ToList();
        if (wrong.Count > 0) throw await RefuseAsync(version, "loading", wrong);
    }

    /// <summary>The refusal of a version whose files changed, recorded in the audit log.</summary>
    public async Task<TamperedArtifactException> RefuseAsync(ModelVersion version, string purpose, IReadOnlyCollection<string> wrongFiles)
    {
        var files = wrongFiles.Count > 0 ? string.Join(", ", wrongFiles) : "its files";
        logger.LogError("Version {VersionId} refused for {Purpose}: {Files} no longer match the hashes recorded at registration", version.Id, purpose, files);
        await audit.RecordAsync(AuditActions.ArtifactRefused, $"version {version.Number}: {files} changed since registration; {purpose} refused", version.ProjectId);
        return new TamperedArtifactException(
            $"Version {version.Number} was not {(purpose == "download" ? "downloaded" : "loaded")}: its files on the server are not the ones that were registered ({files} changed). " +
            "Ask an administrator to restore the original files or to train and register the model again.");
    }

    public string FolderOf(ModelVersion version) => Path.Combine(paths.Models, version.Folder);

    /// <summary>
    /// Streams the version as a zip to <paramref name="destination"/> (nothing is written to disk and nothing is held
    /// in memory beyond one buffer): the registered files and manifest.json. Each file is hashed while it is sent; one
    /// that changed since <see cref="EnsureIntactAsync"/> throws <see cref="TamperedArtifactException"/>, which
    /// aborts the response, so a client never receives a complete zip with a changed file.
    /// </summary>
    public Task WriteZipAsync(ModelVersion version, Stream destination, CancellationToken ct, IReadOnlyList<ZipExtraFile>? extraFiles = null) =>
        WriteZipAsync(version, FolderOf(version), RecordedHashes(version), destination, ct, extraFiles);

    /// <summary>The same for another set of files made from the version (a smaller precision), checked against <paramref name="recorded"/>.</summary>
    public async Task WriteZipAsync(ModelVersion version, string folder, IReadOnlyDictionary<string, string> recorded, Stream destination, CancellationToken ct, IReadOnlyList<ZipExtraFile>? extraFiles = null)
    {
        // The zip library writes some bytes synchronously (when an entry closes), which Kestrel refuses: it writes into
        // this relay, which passes everything on asynchronously after each piece.
        var relay = new AsyncRelayStream(destination);
        var buffer = new byte[81920];
        using (var zip = new ZipArchive(relay, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var path in recorded.Keys.Order(StringComparer.Ordinal).Append(ManifestFile))
            {
                var sent = await StreamEntryAsync(zip, relay, path, Path.Combine(folder, path), buffer, ct);
                if (recorded.TryGetValue(path, out var expected) && !string.Equals(sent, expected, StringComparison.OrdinalIgnoreCase))
                    throw await RefuseAsync(version, "download", [path]);
            }
            foreach (var extra in extraFiles ?? [])
                await WriteExtraAsync(zip, relay, extra, buffer, ct);
        }
        await relay.SendAsync(ct);
    }

    /// <summary>One added file, streamed and hashed like the registered ones; a file that changed aborts the download.</summary>
    private static async Task WriteExtraAsync(ZipArchive zip, AsyncRelayStream relay, ZipExtraFile extra, byte[] buffer, CancellationToken ct)
    {
        var sent = await StreamEntryAsync(zip, relay, extra.EntryName, extra.Path, buffer, ct);
        if (!string.Equals(sent, extra.Sha256, StringComparison.OrdinalIgnoreCase))
            throw new TamperedArtifactException($"The download was stopped: {extra.EntryName} changed while it was being sent. Download again.");
    }

    /// <summary>Copies one file into a new zip entry, passing each piece on as it goes; returns the SHA-256 of what was sent.</summary>
    private static async Task<string> StreamEntryAsync(ZipArchive zip, AsyncRelayStream relay, string entryName, string file, byte[] buffer, CancellationToken ct)
    {
        var entry = zip.CreateEntry(entryName, CompressionLevel.Fastest);
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        await using (var source = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, buffer.Length, useAsync: true))
        using (var target = entry.Open())
        {
            int read;
            while ((read = await source.ReadAsync(buffer, ct)) > 0)
            {
                hash.AppendData(buffer, 0, read);
                target.Write(buffer, 0, read);
                await relay.SendAsync(ct);
            }
        }
        await relay.SendAsync(ct);
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>A write-only stream that collects synchronous writes and sends them on with <see cref="SendAsync"/>.</summary>
    private sealed class AsyncRelayStream(Stream destination) : Stream
    {
        private readonly MemoryStream _pending = new();

        public async Task SendAsync(CancellationToken ct)
        {
            if (_pending.Length == 0) return;
            await destination.WriteAsync(_pending.GetBuffer().AsMemory(0, (int)_pending.Length), ct);
            await destination.FlushAsync(ct);
            _pending.SetLength(0);
        }

        public override void Write(byte[] buffer, int offset, int count) => _pending.Write(buffer, offset, count);
        public override void Write(ReadOnlySpan<byte> buffer) => _pending.Write(buffer);
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        protected override void Dispose(bool disposing)
        {
            if (disposing) _pending.Dispose();
            base.Dispose(disposing);
        }
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
        await audit.RecordAsync(AuditActions.Promoted, $"'{Production}' now points to version {version.Number} (its first usable version)", version.ProjectId);
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
        await audit.RecordAsync(AuditActions.Promoted, $"'{alias}' now points to version {version.Number}", version.ProjectId);
    }
}

/// <summary>A registered version whose files on the server differ from the hashes recorded at registration.</summary>
public sealed class TamperedArtifactException(string message) : Core.EngineException(message);
