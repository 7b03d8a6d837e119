using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using SlmStudio.Web.Data;
using SlmStudio.Core.Training;
using SlmStudio.Core.Verdicts;

namespace SlmStudio.Web.Services;

public sealed record GoalResult(string Prompt, string MustContain, bool Passed, string Text);

/// <summary>One training setting in the words of the person who chose it, with its unit.</summary>
public sealed record SettingRow(string Name, string Value, string? Explanation = null);

/// <summary>Reads the JSON columns of a version for display.</summary>
public static class VersionDetails
{
    public static List<GoalResult> GoalResults(ModelVersion v) => Read<List<GoalResult>>(v.GoalResultsJson) ?? [];
    public static List<SampleOutput> Samples(ModelVersion v) => Read<List<SampleOutput>>(v.SamplesJson) ?? [];
    public static List<DataLineageEntry> Data(ModelVersion v) => Read<List<DataLineageEntry>>(v.DataJson) ?? [];
    public static Dictionary<string, string> Manifest(ModelVersion v) => Read<Dictionary<string, string>>(v.ManifestJson) ?? [];

    /// <summary>"3 of 4 passed", or "none" when the project had no goal tests when the version was made.</summary>
    public static string GoalSummary(ModelVersion v)
    {
        var goals = GoalResults(v);
        return goals.Count == 0 ? "none" : $"{goals.Count(g => g.Passed)} of {goals.Count} passed";
    }

    /// <summary>
    /// The version's training settings (the registry's JSON) as rows a business user can read: what it does, what it
    /// started from, the size, the time budget with its unit. Settings that were not set are left out; a setting this
    /// list does not know yet is shown under its own name rather than dropped.
    /// </summary>
    public static List<SettingRow> Settings(ModelVersion v)
    {
        JsonObject settings;
        try { settings = JsonNode.Parse(v.SettingsJson) as JsonObject ?? []; }
        catch (JsonException) { return []; }
        var rows = new List<SettingRow>();
        foreach (var (key, node) in settings)
        {
            if (node is null) continue;
            var text = node is JsonValue value && value.TryGetValue<string>(out var s) ? s : node.ToJsonString();
            if (string.IsNullOrWhiteSpace(text)) continue;
            rows.Add(key switch
            {
                "Task" => new SettingRow("What it does", text switch
                {
                    TrainingTasks.Classify => "Sort and route (picks a label for each text)",
                    TrainingTasks.Chat => "Answer questions",
                    _ => "Write like us (continues text in your style)",
                }),
                "Preset" => new SettingRow("Model size", PresetName(text), "Bigger models can learn more but need more text and time."),
                "BaseModelName" => new SettingRow("Started from", $"the base model \"{text}\" from the library", "A model trained elsewhere on a lot of text, adapted here to yours."),
                "BaseVersionId" => new SettingRow("Started from", $"an earlier version of this project (registry number {text})"),
                "UseLora" => new SettingRow("Fine-tuning method", text == "true"
                    ? "Adapters only (LoRA): the base model stays unchanged and small add-on weights learn your text"
                    : "All weights", null),
                "VocabSize" => new SettingRow("Vocabulary", $"{Number(text)} word pieces", "How many pieces of words the model knows; chosen from the amount of text."),
                "Minutes" => new SettingRow("Training time budget", Plural(text, "minute")),
                "MaxSteps" => new SettingRow("Training step limit", Plural(text, "step"), "Training stops after this many steps even if time is left."),
                "EvalEvery" => new SettingRow("Checked on held-out text every", Plural(text, "step")),
                "Seed" => new SettingRow("Random seed", text, "The same seed and data give the same model again."),
                "Device" => new SettingRow("Trained on", text.StartsWith("cuda", StringComparison.OrdinalIgnoreCase) ? "the graphics card (GPU)" : text == "cpu" ? "the processor (CPU)" : text),
                "Precision" => new SettingRow("Download precision", PrecisionName(text)),
                _ => new SettingRow(Humanize(key), text),
            });
        }
        // Without a base model or earlier version the fine-tuning method means nothing.
        if (!rows.Any(r => r.Name == "Started from")) rows.RemoveAll(r => r.Name == "Fine-tuning method");
        return rows;
    }

    private static string PresetName(string preset) => preset switch
    {
        "tiny" => "Tiny (about 1 million parameters)",
        "small" => "Small (about 10 million parameters)",
        "medium" => "Medium (about 30 million parameters)",
        "large" => "Large (about 100 million parameters)",
        "auto" => "Chosen automatically from the amount of text and time",
        _ => preset,
    };

    private static string PrecisionName(string precision) => precision switch
    {
        "fp32" => "Full precision (fp32)",
        "int8" => "Smaller (int8)",
        "int4" => "Smallest (int4)",
        _ => precision,
    };

    private static string Number(string text) => long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n.ToString("N0", CultureInfo.InvariantCulture) : text;

    private static string Plural(string text, string unit) =>
        long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? $"{n.ToString("N0", CultureInfo.InvariantCulture)} {unit}{(n == 1 ? "" : "s")}" : text;

    /// <summary>"EvalEvery" -> "Eval every".</summary>
    private static string Humanize(string key)
    {
        var words = System.Text.RegularExpressions.Regex.Split(key, "(?<=[a-z])(?=[A-Z])");
        return string.Join(' ', words.Select((w, i) => i == 0 ? w : w.ToLowerInvariant()));
    }

    private static T? Read<T>(string json)
    {
        try { return JsonSerializer.Deserialize<T>(json, TrainingEvent.Json); }
        catch (JsonException) { return default; }
    }
}

/// <summary>
/// The plain verdict of every kind of version: a text model from its validation loss against the word-frequency
/// baseline and its goal tests (<see cref="RunService.VerdictsAsync"/>); a classifier from its accuracy against the
/// keyword model and its goal tests; a question-answering model from its token F1 before and after training and its
/// goal tests. The figures come from what the run wrote; nothing is measured here.
/// </summary>
public sealed class VersionVerdicts(RunService runs, ClassifierReports classifiers, ChatReports chats)
{
    public async Task<Dictionary<int, ModelVerdict>> OfAsync(IReadOnlyCollection<ModelVersion> versions, CancellationToken ct = default)
    {
        var text = new List<ModelVersion>();
        var verdicts = new Dictionary<int, ModelVerdict>();
        foreach (var v in versions)
        {
            var goals = VersionDetails.GoalResults(v);
            int passed = goals.Count(g => g.Passed), total = goals.Count;
            if (classifiers.IsClassifier(v))
            {
                verdicts[v.Id] = classifiers.Of(v) is { } report
                    ? ModelVerdict.ForClassifier(new ClassifierMeasurements(report.Model.Accuracy, report.Baseline.Accuracy, passed, total, report.TrainExamples))
                    : Unmeasured;
            }
            else if (chats.IsChat(v))
            {
                verdicts[v.Id] = chats.Of(v) is { } report ? ChatReports.VerdictOf(report, goals) : Unmeasured;
            }
            else text.Add(v);
        }
        foreach (var (id, verdict) in await runs.VerdictsAsync(text, ct)) verdicts[id] = verdict;
        return verdicts;
    }

    private static readonly ModelVerdict Unmeasured = new(VerdictLevel.NotUsefulYet,
        "The measurements of the run that made it were not found, so it cannot be judged.", "Train it again to measure it.");
}
