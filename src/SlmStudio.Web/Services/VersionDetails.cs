using System.Text.Json;
using SlmStudio.Web.Data;
using SlmStudio.Core.Training;

namespace SlmStudio.Web.Services;

public sealed record GoalResult(string Prompt, string MustContain, bool Passed, string Text);

/// <summary>Reads the JSON columns of a version for display.</summary>
public static class VersionDetails
{
    public static List<GoalResult> GoalResults(ModelVersion v) => Read<List<GoalResult>>(v.GoalResultsJson) ?? [];
    public static List<SampleOutput> Samples(ModelVersion v) => Read<List<SampleOutput>>(v.SamplesJson) ?? [];
    public static List<DataLineageEntry> Data(ModelVersion v) => Read<List<DataLineageEntry>>(v.DataJson) ?? [];
    public static Dictionary<string, string> Manifest(ModelVersion v) => Read<Dictionary<string, string>>(v.ManifestJson) ?? [];

    private static T? Read<T>(string json)
    {
        try { return JsonSerializer.Deserialize<T>(json, TrainingEvent.Json); }
        catch (JsonException) { return default; }
    }
}
