using System.Text.Json;
using SlmStudio.Core.Classification;
using SlmStudio.Core.Inference;
using SlmStudio.Core.Training;
using SlmStudio.Web.Data;
using SlmStudio.Web.Options;

namespace SlmStudio.Web.Services;

/// <summary>
/// What a classification run measured, as the engine wrote it to the run folder's metrics.json: both models' figures on
/// the same held-out examples (accuracy, macro-F1, per label, confusions, calibration) and the summary in words.
/// </summary>
public sealed record ClassifierReport(
    string Summary, string Route, IReadOnlyList<string> Labels, int TrainExamples, int ValidationExamples,
    ClassificationMetrics Model, ClassificationMetrics Baseline, string? Calibration)
{
    /// <summary>True when the simple keyword model got more of the held-out texts right.</summary>
    public bool BaselineWins => Baseline.Accuracy > Model.Accuracy;
}

/// <summary>Finds a version's classifier report; nothing here computes a figure.</summary>
public sealed class ClassifierReports(StudioPaths paths, ModelRegistry registry, ILogger<ClassifierReports> logger)
{
    /// <summary>True when the version is a "Sort and route" classifier (its artifacts have labels.json).</summary>
    public bool IsClassifier(ModelVersion version) => OnnxClassifier.IsClassifierArtifact(registry.FolderOf(version));

    /// <summary>The report of the run that made the version; null when the run folder has none (or it cannot be read).</summary>
    public ClassifierReport? Of(ModelVersion version) => Read(ClassificationRunFolder.At(paths.Run(version.RunId)).MetricsSummaryFile);

    public ClassifierReport? Read(string metricsFile)
    {
        if (!File.Exists(metricsFile)) return null;
        try { return JsonSerializer.Deserialize<ClassifierReport>(File.ReadAllText(metricsFile), TrainingEvent.Json); }
        catch (Exception e) when (e is JsonException or IOException or NotSupportedException)
        {
            logger.LogWarning(e, "The classifier report {File} could not be read", metricsFile);
            return null;
        }
    }
}
