using System.Text.Json;
using System.Text.Json.Serialization;
using SlmStudio.Core.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SlmStudio.Core.Classification;

#pragma warning disable IDE1006 // field names are the checkpoint's parameter names

/// <summary>How the hidden states of a text become one vector for the head.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ClassifierPooling>))]
public enum ClassifierPooling
{
    /// <summary>
    /// The average over the text's tokens. The default: every token's state gets gradient from the label, so a backbone
    /// trained from scratch in minutes learns faster and steadier than through one position, and a text's last token
    /// (often "?" or "thanks") carries no special weight.
    /// </summary>
    Mean,

    /// <summary>The last token's state, as Hugging Face's LlamaForSequenceClassification does: the only position that has read the whole text. Use it for checkpoints trained that way.</summary>
    LastToken,
}

/// <summary>
/// The Llama backbone with a classification head: hidden states (after the final norm) pooled over the text, then
/// <c>score</c>, a bias-free linear layer to one logit per label. Parameter names are Hugging Face's
/// (<c>model.*</c>, <c>score.weight</c>), so the backbone of a causal LM checkpoint loads unchanged.
/// <para>
/// Batches must be padded on the right (ids then padding), with <c>attention_mask</c> 1 on text and 0 on padding. The
/// backbone's attention is causal, so a text's tokens never see the padding after them: the pooled vector of a padded
/// text equals that of the same text alone, without a padding mask inside attention.
/// </para>
/// </summary>
public sealed class LlamaForSequenceClassification : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly LlamaModel model;
    private readonly Linear score;

    public LlamaConfig Config { get; }
    public IReadOnlyList<string> Labels { get; }
    public ClassifierPooling Pooling { get; }

    /// <summary>Dropout on the pooled vector while training (none in evaluation or export): the head cannot rely on a few directions.</summary>
    public double HeadDropout { get; set; }

    public LlamaForSequenceClassification(LlamaConfig config, IReadOnlyList<string> labels, ClassifierPooling pooling = ClassifierPooling.Mean)
        : base(nameof(LlamaForSequenceClassification))
    {
        config.Validate();
        if (labels.Count < 2) throw new ArgumentException("A classifier needs at least two labels.", nameof(labels));
        if (labels.Distinct(StringComparer.Ordinal).Count() != labels.Count) throw new ArgumentException("Labels must be distinct.", nameof(labels));
        Config = config;
        Labels = [.. labels];
        Pooling = pooling;
        model = new LlamaModel(config);
        score = nn.Linear(config.HiddenSize, labels.Count, hasBias: false);
        RegisterComponents();
    }

    /// <summary>Logits (B, labels) for right-padded ids (B, T) and their attention mask (B, T) of 1 (text) and 0 (padding).</summary>
    public override Tensor forward(Tensor ids, Tensor attentionMask)
    {
        using var scope = NewDisposeScope();
        var hidden = model.Forward(ids, null);                                       // (B, T, C)
        var mask = attentionMask.to(ScalarType.Float32);                             // (B, T)
        Tensor pooled;
        if (Pooling == ClassifierPooling.Mean)
        {
            var count = mask.sum(1, keepdim: true).clamp_min(1);                     // (B, 1)
            pooled = (hidden * mask.unsqueeze(-1)).sum(1) / count;                   // (B, C)
        }
        else
        {
            var last = (attentionMask.to(ScalarType.Int64).sum(1) - 1).clamp_min(0); // (B)
            var index = last.view(-1, 1, 1).expand(-1, 1, hidden.shape[2]);          // (B, 1, C)
            pooled = hidden.gather(1, index).squeeze(1);                             // (B, C)
        }
        if (training && HeadDropout > 0) pooled = nn.functional.dropout(pooled, HeadDropout, training: true);
        return score.forward(pooled).MoveToOuterDisposeScope();                      // (B, labels)
    }

    /// <summary>Probabilities (B, labels), without gradients.</summary>
    public Tensor Probabilities(Tensor ids, Tensor attentionMask)
    {
        using var _ = no_grad();
        using var logits = forward(ids, attentionMask);
        return logits.softmax(-1);
    }

    /// <summary>
    /// Initialisation as <see cref="LlamaForCausalLM.InitializeWeights"/> (N(0, 0.02), residual projections scaled) for the
    /// backbone; the head N(0, 0.02).
    /// </summary>
    public void InitializeWeights(long seed)
    {
        manual_seed(seed);
        using var _ = no_grad();
        var residualStd = 0.02 / Math.Sqrt(2.0 * Config.NumLayers);
        foreach (var (name, p) in named_parameters())
        {
            if (name.EndsWith("norm.weight", StringComparison.Ordinal)) p.fill_(1.0);
            else if (name.EndsWith("o_proj.weight", StringComparison.Ordinal) || name.EndsWith("down_proj.weight", StringComparison.Ordinal))
                nn.init.normal_(p, 0, residualStd);
            else nn.init.normal_(p, 0, 0.02);
        }
    }

    /// <summary>Copies the backbone (every <c>model.*</c> weight) of a causal language model, such as the one from the language phase.</summary>
    public void LoadBackbone(LlamaForCausalLM languageModel)
    {
        var source = languageModel.named_parameters().Where(p => p.name.StartsWith("model.", StringComparison.Ordinal)).ToDictionary(p => p.name, p => p.parameter);
        using var _ = no_grad();
        foreach (var (name, p) in named_parameters().Where(p => p.name.StartsWith("model.", StringComparison.Ordinal)))
        {
            if (!source.TryGetValue(name, out var s) || !s.shape.SequenceEqual(p.shape))
                throw new UnsupportedModelException($"The language model does not match this classifier's backbone: weight '{name}' is missing or has another shape.");
            p.copy_(s);
        }
    }

    /// <summary>Copies the backbone of this classifier into a causal language model (for a language phase after, or for its export).</summary>
    public void CopyBackboneTo(LlamaForCausalLM languageModel)
    {
        var target = languageModel.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        using var _ = no_grad();
        foreach (var (name, p) in named_parameters().Where(p => p.name.StartsWith("model.", StringComparison.Ordinal)))
            target[name].copy_(p);
    }

    public IEnumerable<NamedTensor> ExportWeights() =>
        named_parameters().Select(p =>
        {
            using var cpu = p.parameter.detach().cpu().contiguous();
            return new NamedTensor(p.name, p.parameter.shape, cpu.data<float>().ToArray());
        }).ToList();

    /// <summary>Copies named tensors in, refusing missing or wrongly shaped weights by name.</summary>
    public void LoadWeights(IReadOnlyDictionary<string, NamedTensor> tensors, string source)
    {
        using var _ = no_grad();
        foreach (var (name, p) in named_parameters())
        {
            if (!tensors.TryGetValue(name, out var t))
                throw new UnsupportedModelException($"{source} does not hold the classifier weight '{name}'.");
            if (!t.Shape.SequenceEqual(p.shape))
                throw new UnsupportedModelException($"{source}: weight '{name}' has shape [{string.Join(", ", t.Shape)}] but the classifier expects [{string.Join(", ", p.shape)}].");
            using var value = tensor(t.Data, t.Shape);
            p.copy_(value);
        }
    }
}

/// <summary>
/// What <c>labels.json</c> holds beside a classifier's weights: the labels in the order of the head's outputs, the
/// pooling, and how many tokens of a text the classifier reads (texts are cut there, as in training; null: the
/// model's context length).
/// </summary>
public sealed record ClassifierLabels(
    [property: JsonPropertyName("labels")] IReadOnlyList<string> Labels,
    [property: JsonPropertyName("pooling")] ClassifierPooling Pooling,
    [property: JsonPropertyName("maxTokens")] int? MaxTokens = null)
{
    private static readonly JsonSerializerOptions ReadOptions = new();

    /// <summary>Reads labels.json, refusing a missing or damaged one by name.</summary>
    public static ClassifierLabels Load(string path)
    {
        if (!File.Exists(path)) throw new UnsupportedModelException($"{Path.GetDirectoryName(path)} has no {ClassifierFolder.LabelsFile}, so it is not a classifier.");
        try
        {
            var labels = JsonSerializer.Deserialize<ClassifierLabels>(File.ReadAllText(path), ReadOptions);
            if (labels?.Labels is not { Count: >= 2 }) throw new UnsupportedModelException($"{path} names fewer than two labels; it does not belong to a classifier.");
            return labels;
        }
        catch (JsonException e) { throw new UnsupportedModelException($"{path} is damaged (not valid JSON: {e.Message}).", e); }
    }

    /// <summary>The token limit for a model whose context is <paramref name="maxPositions"/>.</summary>
    public int TokenLimit(int maxPositions) => Math.Min(MaxTokens ?? maxPositions, maxPositions);
}

/// <summary>
/// A classifier folder: config.json (the backbone's Llama config), model.safetensors (backbone and <c>score.weight</c>),
/// labels.json, and tokenizer.json when given.
/// </summary>
public static class ClassifierFolder
{
    public const string LabelsFile = "labels.json";

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    public static void Save(LlamaForSequenceClassification classifier, Tokenization.ITokenizer? tokenizer, string folder, int? maxTokens = null)
    {
        Directory.CreateDirectory(folder);
        SafetensorsFile.Write(Path.Combine(folder, ModelFolder.WeightsFile), classifier.ExportWeights(), new Dictionary<string, string> { ["format"] = "pt" });
        classifier.Config.Save(Path.Combine(folder, ModelFolder.ConfigFile));
        AtomicFile.WriteAllText(Path.Combine(folder, LabelsFile), JsonSerializer.Serialize(new ClassifierLabels(classifier.Labels, classifier.Pooling, maxTokens), JsonOptions));
        tokenizer?.Save(Path.Combine(folder, ModelFolder.TokenizerFile));
    }

    public static LlamaForSequenceClassification Load(string folder)
    {
        var labels = ClassifierLabels.Load(Path.Combine(folder, LabelsFile));
        var config = LlamaConfig.Load(Path.Combine(folder, ModelFolder.ConfigFile));
        var classifier = new LlamaForSequenceClassification(config, labels.Labels, labels.Pooling);
        classifier.LoadWeights(SafetensorsFile.Read(Path.Combine(folder, ModelFolder.WeightsFile)), ModelFolder.WeightsFile);
        classifier.eval();
        return classifier;
    }
}
