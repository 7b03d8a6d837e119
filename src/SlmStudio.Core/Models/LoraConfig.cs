using System.Text.Json.Serialization;

namespace SlmStudio.Core.Models;

/// <summary>
/// Low-rank adaptation (LoRA, Hu et al. 2021) settings: each targeted projection W gets a trainable update
/// (alpha / rank) · B·A, with A of shape (rank, in) and B of shape (out, rank), while W itself stays frozen.
/// Target modules use the checkpoint's own names for its family (Phi-3's fused <c>qkv_proj</c>, Phi-2's <c>dense</c>,
/// <c>fc1</c>, <c>fc2</c>), exactly as PEFT's <c>target_modules</c> names them, so the saved adapter loads elsewhere.
/// </summary>
public sealed record LoraConfig
{
    public const int DefaultRank = 8;
    public const double DefaultAlpha = 16;
    public const double DefaultDropout = 0.05;
    public const int MaxRank = 1024;

    [JsonPropertyName("rank")] public int Rank { get; init; } = DefaultRank;
    [JsonPropertyName("alpha")] public double Alpha { get; init; } = DefaultAlpha;
    /// <summary>Dropout on the adapter's input only (the frozen path sees the input unchanged), as PEFT does.</summary>
    [JsonPropertyName("dropout")] public double Dropout { get; init; } = DefaultDropout;
    /// <summary>Checkpoint module names (the last part, e.g. "q_proj"); null: <see cref="DefaultTargets"/> for the family.</summary>
    [JsonPropertyName("target_modules")] public IReadOnlyList<string>? TargetModules { get; init; }

    [JsonIgnore] public double Scale => Alpha / Rank;

    /// <summary>Attention and MLP projections, under each family's checkpoint names.</summary>
    public static IReadOnlyList<string> DefaultTargets(ModelFamily family) => family switch
    {
        ModelFamily.Phi3 => ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"],
        ModelFamily.Phi => ["q_proj", "k_proj", "v_proj", "dense", "fc1", "fc2"],
        _ => ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    };

    public IReadOnlyList<string> TargetsFor(ModelFamily family) => TargetModules is { Count: > 0 } t ? t : DefaultTargets(family);

    /// <summary>Refuses settings that cannot train, with what to use instead.</summary>
    public void Validate()
    {
        if (Rank < 1 || Rank > MaxRank) throw new EngineException($"The LoRA rank must be between 1 and {MaxRank} (it is {Rank}); 8 or 16 suits most fine-tuning.");
        if (!(Alpha > 0) || double.IsInfinity(Alpha)) throw new EngineException($"The LoRA alpha must be a positive number (it is {Alpha}); twice the rank is the usual choice.");
        if (!(Dropout >= 0 && Dropout < 1)) throw new EngineException($"The LoRA dropout must be at least 0 and below 1 (it is {Dropout}); 0.05 is the usual choice.");
    }
}
