using System.Security.Cryptography;
using System.Text;
using SlmStudio.Core.Models;
using SlmStudio.Core.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace SlmStudio.Core.Retrieval;

/// <summary>
/// Turns text into a vector with a project's own language model, for semantic search: the model's last hidden states
/// (after the final norm) averaged over the text's tokens and scaled to length 1, so that the dot product of two
/// vectors is their cosine. The beginning-of-text token is fed (the model was trained with it) but not averaged: its
/// state is the same for every text and would only pull all vectors together. Texts longer than the model's context
/// are cut to it. Opens any Hugging Face Llama-family folder, including an artifact made by <c>slm export</c>, which
/// keeps the training weights beside the ONNX graph (the ONNX graph returns logits only, not hidden states).
/// </summary>
public sealed class PassageEncoder : IDisposable
{
    /// <summary>Longer texts are cut: a passage is at most a few hundred words, and attention cost grows with the square of the length.</summary>
    public const int MaxTokens = 512;

    private readonly LlamaForCausalLM _model;
    private readonly LlamaModel _backbone;
    private readonly ITokenizer _tokenizer;
    private readonly int? _bos;
    private readonly int _maxTokens;
    // One forward pass at a time: TorchSharp modules are not documented as safe for concurrent use, and on a CPU one
    // pass already uses every core.
    private readonly Lock _lock = new();

    /// <summary>Identifies the weights and configuration: vectors made with other weights are never mixed with these.</summary>
    public string ModelKey { get; }
    public int Dimension { get; }

    private PassageEncoder(LlamaForCausalLM model, ITokenizer tokenizer, string modelKey)
    {
        _model = model;
        // The causal LM keeps its backbone private; the backbone's Forward gives the normed hidden states the LM head reads.
        _backbone = model.named_children().Select(c => c.module).OfType<LlamaModel>().SingleOrDefault()
            ?? throw new EngineException("This model's layers are not laid out as a Llama-family model, so it cannot be used for semantic search.");
        _tokenizer = tokenizer;
        _bos = tokenizer.BosId ?? model.Config.BosTokenId;
        _maxTokens = Math.Min(MaxTokens, model.Config.MaxPositions);
        ModelKey = modelKey;
        Dimension = model.Config.HiddenSize;
    }

    /// <summary>Opens the model in <paramref name="modelFolder"/> (config.json, model.safetensors, tokenizer.json) on the CPU.</summary>
    public static PassageEncoder Open(string modelFolder)
    {
        if (!Directory.Exists(modelFolder)) throw new EngineException($"The model folder '{modelFolder}' does not exist.");
        var tokenizerPath = Path.Combine(modelFolder, ModelFolder.TokenizerFile);
        var tokenizer = TokenizerFile.Load(tokenizerPath);
        var key = KeyOf(modelFolder);
        var (model, _) = ModelFolder.Load(modelFolder);
        try
        {
            return new PassageEncoder(model, tokenizer, key);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>SHA-256 over the configuration, tokenizer and weight files (by name and content).</summary>
    public static string KeyOf(string modelFolder)
    {
        var files = new[] { ModelFolder.ConfigFile, ModelFolder.TokenizerFile }
            .Concat(Directory.GetFiles(modelFolder, "*.safetensors").Select(Path.GetFileName).Order(StringComparer.Ordinal)!)
            .Where(name => File.Exists(Path.Combine(modelFolder, name!)));
        var sb = new StringBuilder();
        foreach (var name in files) sb.Append(name).Append(':').Append(Artifacts.ArtifactManifest.Sha256Of(Path.Combine(modelFolder, name!))).Append('\n');
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sb.ToString())));
    }

    /// <summary>The unit-length mean-pooled vector of <paramref name="text"/>; all zeros for a text without tokens.</summary>
    public float[] Encode(string text)
    {
        var tokens = _tokenizer.Encode(text, addSpecialTokens: false, splitSpecialTokens: true);
        var room = _bos is null ? _maxTokens : _maxTokens - 1;
        if (tokens.Length > room) tokens = tokens[..room];
        if (tokens.Length == 0) return new float[Dimension];
        var ids = (_bos is { } bos ? tokens.Prepend(bos) : tokens).Select(t => (long)t).ToArray();
        var skip = _bos is null ? 0 : 1;
        lock (_lock)
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var input = tensor(ids, dtype: ScalarType.Int64).unsqueeze(0);            // (1, T)
            var hidden = _backbone.Forward(input, null)[0];                            // (T, C)
            var pooled = hidden.narrow(0, skip, ids.Length - skip).mean([0L]).to_type(ScalarType.Float32);
            var norm = pooled.norm().item<float>();
            var vector = pooled.data<float>().ToArray();
            if (norm > 0) for (int i = 0; i < vector.Length; i++) vector[i] /= norm;
            return vector;
        }
    }

    /// <summary>The text a passage is encoded from: its heading path and text, as the keyword index reads it.</summary>
    public static string TextOf(Passage p) => p.HeadingPath.Count > 0 ? p.Heading + "\n" + p.Text : p.Text;

    public void Dispose() => _model.Dispose();
}
