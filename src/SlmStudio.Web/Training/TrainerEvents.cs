using System.Text.Json;
using System.Text.Json.Serialization;

namespace SlmStudio.Web.Training;

public sealed record SampleOutput(string Prompt, string Text);

/// <summary>One line of <c>slm train</c>'s JSON-lines output (see ENGINE-CONTRACT.md); fields absent from a kind stay null.</summary>
public sealed record TrainerEvent
{
    public string Event { get; init; } = "";
    public string? Preset { get; init; }
    public long? Parameters { get; init; }
    public int? Step { get; init; }
    public int? MaxSteps { get; init; }
    public int? StartStep { get; init; }
    public string? Device { get; init; }
    public int? VocabSize { get; init; }
    public double? Loss { get; init; }
    public double? Lr { get; init; }
    public double? TokensPerSecond { get; init; }
    public double? ElapsedSeconds { get; init; }
    public double? EtaSeconds { get; init; }
    public double? TrainLoss { get; init; }
    public double? ValLoss { get; init; }
    public double? BestValLoss { get; init; }
    /// <summary>Validation loss of a token-frequency model with no context: the simple baseline a model must beat.</summary>
    public double? BaselineValLoss { get; init; }
    public double? Perplexity { get; init; }
    public double? BitsPerChar { get; init; }
    public List<SampleOutput>? Samples { get; init; }
    public bool? Cancelled { get; init; }
    public string? ModelDir { get; init; }
    public string? Message { get; init; }

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>Parses one stdout line; null for anything that is not a JSON object with an "event" (stray prints are ignored).</summary>
    public static TrainerEvent? TryParse(string? line)
    {
        if (string.IsNullOrWhiteSpace(line)) return null;
        var t = line.Trim();
        if (!t.StartsWith('{')) return null;
        try
        {
            var e = JsonSerializer.Deserialize<TrainerEvent>(t, Json);
            return e is { Event.Length: > 0 } ? e : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
