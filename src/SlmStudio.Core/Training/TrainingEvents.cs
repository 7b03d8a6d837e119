using System.Text.Json;
using System.Text.Json.Serialization;

namespace SlmStudio.Core.Training;

/// <summary>
/// Progress of a run. Serialised as one JSON object per line (the "event" property names the kind), which is what
/// <c>slm train</c> prints and what the portal stores and charts.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "event")]
[JsonDerivedType(typeof(TrainingStarted), "started")]
[JsonDerivedType(typeof(TrainingStep), "step")]
[JsonDerivedType(typeof(EvaluationResult), "eval")]
[JsonDerivedType(typeof(CheckpointSaved), "checkpoint")]
[JsonDerivedType(typeof(TrainingFinished), "finished")]
[JsonDerivedType(typeof(TrainingMessage), "message")]
[JsonDerivedType(typeof(TrainingError), "error")]
public abstract record TrainingEvent
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string ToJsonLine() => JsonSerializer.Serialize(this, Json);

    /// <summary>The "event" name of this kind, as written in the JSON line.</summary>
    [JsonIgnore]
    public string Kind => this switch
    {
        TrainingStarted => "started",
        TrainingStep => "step",
        EvaluationResult => "eval",
        CheckpointSaved => "checkpoint",
        TrainingFinished => "finished",
        TrainingMessage => "message",
        TrainingError => "error",
        _ => throw new NotSupportedException(GetType().Name),
    };

    /// <summary>One JSON line as an event; null for anything else (stray output, broken or unknown lines).</summary>
    public static TrainingEvent? Parse(string? line)
    {
        if (string.IsNullOrWhiteSpace(line)) return null;
        try { return JsonSerializer.Deserialize<TrainingEvent>(line, Json); }
        catch (JsonException) { return null; }
        catch (NotSupportedException) { return null; }
    }
}

public sealed record TrainingStarted(
    string Preset, long Parameters, int MaxSteps, int StartStep, string Device, int VocabSize, int ContextLength,
    int BatchSize, long TrainTokens, long ValidationTokens, double LearningRate, string? BaseModel, double BaselineValLoss) : TrainingEvent;

public sealed record TrainingStep(
    int Step, int MaxSteps, double Loss, double Lr, double TokensPerSecond, double ElapsedSeconds, double EtaSeconds) : TrainingEvent;

public sealed record SampleOutput(string Prompt, string Text);

public sealed record EvaluationResult(
    int Step, double? TrainLoss, double ValLoss, double Perplexity, double BitsPerChar, IReadOnlyList<SampleOutput> Samples) : TrainingEvent;

public sealed record CheckpointSaved(int Step) : TrainingEvent;

/// <param name="TrainingTokensPerSecond">Tokens per second of the training steps of this session alone (evaluations,
/// samples and checkpoints left out): the figure <c>slm bench train</c> measures for the same preset.</param>
public sealed record TrainingFinished(
    int Step, double BestValLoss, double Perplexity, double BitsPerChar, bool Cancelled, string ModelDir,
    double ElapsedSeconds, long TokensSeen, double BaselineValLoss, double? TrainingTokensPerSecond = null) : TrainingEvent;

/// <summary>Something worth telling the user that is not an error (e.g. why the auto preset chose a size).</summary>
public sealed record TrainingMessage(string Text) : TrainingEvent;

public sealed record TrainingError(string Message) : TrainingEvent;
