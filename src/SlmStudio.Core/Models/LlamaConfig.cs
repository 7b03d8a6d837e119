using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace SlmStudio.Core.Models;

/// <summary>
/// The one configuration of our model family, with the field names and meaning of Hugging Face's
/// <c>LlamaConfig</c> (config.json), so that checkpoints move both ways without conversion.
/// </summary>
public sealed record LlamaConfig
{
    [JsonPropertyName("vocab_size")] public int VocabSize { get; init; }
    [JsonPropertyName("hidden_size")] public int HiddenSize { get; init; }
    [JsonPropertyName("intermediate_size")] public int IntermediateSize { get; init; }
    [JsonPropertyName("num_hidden_layers")] public int NumLayers { get; init; }
    [JsonPropertyName("num_attention_heads")] public int NumHeads { get; init; }
    [JsonPropertyName("num_key_value_heads")] public int NumKvHeads { get; init; }
    [JsonPropertyName("head_dim")] public int? HeadDimOverride { get; init; }
    [JsonPropertyName("max_position_embeddings")] public int MaxPositions { get; init; } = 256;
    [JsonPropertyName("rms_norm_eps")] public double RmsNormEps { get; init; } = 1e-5;
    [JsonPropertyName("rope_theta")] public double RopeTheta { get; init; } = 10000.0;
    [JsonPropertyName("tie_word_embeddings")] public bool TieWordEmbeddings { get; init; }
    [JsonPropertyName("bos_token_id")] public int? BosTokenId { get; init; }
    [JsonPropertyName("eos_token_id")] public int? EosTokenId { get; init; }
    [JsonPropertyName("pad_token_id")] public int? PadTokenId { get; init; }

    [JsonIgnore] public int HeadDim => HeadDimOverride ?? HiddenSize / NumHeads;

    /// <summary>Exact parameter count of <see cref="LlamaForCausalLM"/> built from this config.</summary>
    [JsonIgnore]
    public long ParameterCount
    {
        get
        {
            long d = HiddenSize, hd = HeadDim, kv = (long)NumKvHeads * hd, q = (long)NumHeads * hd;
            long attention = d * q + 2 * d * kv + q * d;
            long mlp = 3 * d * IntermediateSize;
            long perLayer = attention + mlp + 2 * d;
            long embeddings = (long)VocabSize * d;
            return embeddings + NumLayers * perLayer + d + (TieWordEmbeddings ? 0 : embeddings);
        }
    }

    /// <summary>Parameters excluding the input embedding: the "N" of scaling-law sizing.</summary>
    [JsonIgnore] public long NonEmbeddingParameterCount => ParameterCount - (long)VocabSize * HiddenSize;

    public void Validate()
    {
        var problems = new List<string>();
        if (VocabSize <= 0) problems.Add("vocab_size must be positive");
        if (HiddenSize <= 0) problems.Add("hidden_size must be positive");
        if (NumLayers <= 0) problems.Add("num_hidden_layers must be positive");
        if (NumHeads <= 0) problems.Add("num_attention_heads must be positive");
        if (NumKvHeads <= 0 || (NumHeads > 0 && NumHeads % NumKvHeads != 0))
            problems.Add($"num_key_value_heads ({NumKvHeads}) must divide num_attention_heads ({NumHeads})");
        if (HeadDimOverride is null && NumHeads > 0 && HiddenSize % NumHeads != 0)
            problems.Add($"hidden_size ({HiddenSize}) must be a multiple of num_attention_heads ({NumHeads})");
        if (HeadDim % 2 != 0) problems.Add($"the head size ({HeadDim}) must be even for rotary position embeddings");
        if (IntermediateSize <= 0) problems.Add("intermediate_size must be positive");
        if (problems.Count > 0) throw new UnsupportedModelException("The model configuration is not usable: " + string.Join("; ", problems) + ".");
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    /// <summary>Reads a Hugging Face config.json, refusing architectures and features this engine does not implement.</summary>
    public static LlamaConfig Load(string configJsonPath)
    {
        if (!File.Exists(configJsonPath)) throw new UnsupportedModelException($"No config.json at {configJsonPath}: a model folder needs config.json, model.safetensors and tokenizer.json.");
        JsonObject node;
        try { node = JsonNode.Parse(File.ReadAllText(configJsonPath))!.AsObject(); }
        catch (Exception e) when (e is JsonException or InvalidOperationException or NullReferenceException)
        { throw new UnsupportedModelException($"{configJsonPath} is not valid JSON ({e.Message})."); }

        var modelType = node["model_type"]?.GetValue<string>();
        var architectures = node["architectures"]?.AsArray().Select(a => a?.GetValue<string>()).ToList() ?? [];
        if (modelType is not null && modelType != "llama")
            throw new UnsupportedModelException($"Model type '{modelType}' is not supported: SLM Studio runs Llama-family models (model_type 'llama').");
        if (architectures.Count > 0 && !architectures.Contains("LlamaForCausalLM"))
            throw new UnsupportedModelException($"Architecture '{string.Join(", ", architectures)}' is not supported: SLM Studio runs LlamaForCausalLM.");
        if (node["hidden_act"]?.GetValue<string>() is { } act && act != "silu")
            throw new UnsupportedModelException($"Activation '{act}' is not supported: only 'silu' (SwiGLU) is.");
        if (node["attention_bias"]?.GetValue<bool>() == true) throw new UnsupportedModelException("attention_bias = true is not supported.");
        if (node["mlp_bias"]?.GetValue<bool>() == true) throw new UnsupportedModelException("mlp_bias = true is not supported.");
        if (node["rope_scaling"] is JsonObject) throw new UnsupportedModelException("rope_scaling is not supported: only plain rotary position embeddings are.");

        static int? FirstId(JsonNode? n) => n switch
        {
            null => null,
            JsonArray a => a.Count > 0 ? a[0]!.GetValue<int>() : null,
            _ => n.GetValue<int>(),
        };
        node.Remove("eos_token_id", out var eos);
        node.Remove("bos_token_id", out var bos);
        node.Remove("pad_token_id", out var pad);
        var config = node.Deserialize<LlamaConfig>()!;
        config = config with
        {
            NumKvHeads = config.NumKvHeads == 0 ? config.NumHeads : config.NumKvHeads,
            EosTokenId = FirstId(eos),
            BosTokenId = FirstId(bos),
            PadTokenId = FirstId(pad),
        };
        config.Validate();
        return config;
    }

    public string ToJson()
    {
        var node = JsonSerializer.SerializeToNode(this, JsonOptions)!.AsObject();
        node["architectures"] = new JsonArray("LlamaForCausalLM");
        node["model_type"] = "llama";
        node["hidden_act"] = "silu";
        node["attention_bias"] = false;
        node["mlp_bias"] = false;
        node["torch_dtype"] = "float32";
        if (HeadDimOverride is null) node["head_dim"] = HeadDim;
        return node.ToJsonString(JsonOptions);
    }

    public void Save(string configJsonPath) => AtomicFile.WriteAllText(configJsonPath, ToJson());
}
