using System.Collections.Concurrent;
using SlmStudio.Core.Artifacts;
using SlmStudio.Core.Export.Quantization;
using SlmStudio.Core.Processes;
using SlmStudio.Web.Data;
using SlmStudio.Web.Options;

namespace SlmStudio.Web.Services;

/// <summary>One download precision offered on the Models page, in words.</summary>
public sealed record PrecisionChoice(WeightPrecision Precision, string Title, string Explanation)
{
    public string Name => Precision.Name();
}

/// <summary>What is known about a version's download in one precision.</summary>
/// <param name="Ready">The files exist and may be downloaded.</param>
/// <param name="Quality">The quality check against full precision, in words; null for full precision (the registered files).</param>
public sealed record PrecisionStatus(WeightPrecision Precision, bool Ready, bool Preparing, string? Quality, bool QualityPassed, string? Problem);

/// <summary>
/// Smaller downloads of a registered version: <c>slm export --precision int8|int4</c> of the run that made it, in a
/// child process (as the training export), into the run's folder beside the registered fp32 files. The exporter checks
/// the smaller model against full precision on the run's validation text; one whose loss rises more than allowed is
/// kept with the result but not offered for download. Full precision is the registered version itself.
/// </summary>
public sealed class VersionExports(StudioPaths paths, ModelRegistry registry, ILogger<VersionExports> logger)
{
    public static readonly IReadOnlyList<PrecisionChoice> Choices =
    [
        new(WeightPrecision.Fp32, "Full precision (fp32)", "Exactly the trained model; the largest files."),
        new(WeightPrecision.Int8, "Smaller (int8)", "About a quarter of the size and faster on a CPU; answers almost always the same."),
        new(WeightPrecision.Int4, "Smallest (int4)", "About an eighth of the size and fastest; small models lose some quality, which the check below measures."),
    ];

    private readonly ConcurrentDictionary<(int, WeightPrecision), Task> _running = new();

    /// <summary>Classifiers are small and their exporter writes full precision only.</summary>
    public bool Offers(ModelVersion version) => !Core.Inference.OnnxClassifier.IsClassifierArtifact(registry.FolderOf(version));

    public string FolderOf(ModelVersion version, WeightPrecision precision) =>
        precision == WeightPrecision.Fp32 ? registry.FolderOf(version) : Path.Combine(paths.Run(version.RunId), "precision-exports", precision.Name());

    public PrecisionStatus Status(ModelVersion version, WeightPrecision precision)
    {
        if (precision == WeightPrecision.Fp32) return new(precision, true, false, null, true, null);
        var preparing = _running.TryGetValue((version.Id, precision), out var task) && !task.IsCompleted;
        var folder = FolderOf(version, precision);
        if (preparing || !File.Exists(Path.Combine(folder, ArtifactManifest.FileName)))
            return new(precision, false, preparing, null, false, _problems.GetValueOrDefault((version.Id, precision)));
        try
        {
            var manifest = ModelRegistry.CheckedManifest(folder);
            var q = manifest.Quantization;
            if (q is null) return new(precision, false, false, null, false, "The smaller files have no quality check; prepare them again.");
            var words = $"Quality check: {Math.Max(0, q.LossIncreasePercent):0.0}% worse than full precision at predicting your validation text (at most {q.MaxLossIncreasePercent:0.#}% allowed); "
                + $"it picks the same next word {q.Top1Agreement * 100:0}% of the time.";
            return new(precision, q.Passed, false, q.Passed ? words : $"{words} Not offered: use a larger precision.", q.Passed, null);
        }
        catch (Exception e) when (e is InvalidDataException or Core.Models.InvalidModelFileException or IOException)
        {
            return new(precision, false, false, null, false, "The smaller files changed on the server after they were made; prepare them again.");
        }
    }

    private readonly ConcurrentDictionary<(int, WeightPrecision), string> _problems = new();

    /// <summary>Starts making the version's files in <paramref name="precision"/>, unless that is running already; the task ends when they are written.</summary>
    public Task PrepareAsync(ModelVersion version, WeightPrecision precision, CancellationToken ct = default)
    {
        if (precision == WeightPrecision.Fp32) return Task.CompletedTask;
        return _running.AddOrUpdate((version.Id, precision),
            _ => ExportAsync(version, precision, ct),
            (_, existing) => existing.IsCompleted ? ExportAsync(version, precision, ct) : existing);
    }

    private async Task ExportAsync(ModelVersion version, WeightPrecision precision, CancellationToken ct)
    {
        await Task.Yield();
        _problems.TryRemove((version.Id, precision), out _);
        var folder = FolderOf(version, precision);
        var runFolder = paths.Run(version.RunId);
        if (!Directory.Exists(Path.Combine(runFolder, "model")))
        {
            _problems[(version.Id, precision)] = "The training run that made this version is no longer on the server, so smaller files cannot be made.";
            return;
        }
        if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        Directory.CreateDirectory(Path.GetDirectoryName(folder)!);
        var export = await new SlmLauncher(paths.Slm).ExportAsync(runFolder, folder,
            line => logger.LogInformation("{Precision} export of version {VersionId}: {Line}", precision.Name(), version.Id, line), ct, precision.Name());
        // A failed quality check still writes the folder (marked failed in its manifest): Status reads the result from it.
        if (!export.Succeeded && !File.Exists(Path.Combine(folder, ArtifactManifest.FileName)))
        {
            logger.LogWarning("{Precision} export of version {VersionId} failed: {Error}", precision.Name(), version.Id, export.Exit.StandardErrorTail);
            _problems[(version.Id, precision)] = $"Making the smaller files failed: {export.Exit.ErrorMessage ?? "the engine stopped with an error"}. Download full precision instead.";
        }
    }

    /// <summary>The files listed in the smaller export's own manifest (checked against it first), for the download.</summary>
    public IReadOnlyDictionary<string, string>? DownloadableFiles(ModelVersion version, WeightPrecision precision)
    {
        var status = Status(version, precision);
        if (!status.Ready || precision == WeightPrecision.Fp32) return null;
        return ArtifactManifest.Load(FolderOf(version, precision)).Files.ToDictionary(f => f.Path, f => f.Sha256);
    }
}
