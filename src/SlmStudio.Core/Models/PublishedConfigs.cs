namespace SlmStudio.Core.Models;

/// <summary>
/// The config.json of real small models that companies pick, exactly as their authors publish them on Hugging Face
/// (the keys this engine reads). Used to measure fine-tuning speed and memory on this machine with random weights of the
/// real shapes, before anyone downloads gigabytes.
/// </summary>
public static class PublishedConfigs
{
    public static IReadOnlyDictionary<string, string> Json { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        // HuggingFaceTB/SmolLM2-135M
        ["smollm2-135m"] = """
            {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 576, "intermediate_size": 1536,
             "num_hidden_layers": 30, "num_attention_heads": 9, "num_key_value_heads": 3, "vocab_size": 49152,
             "max_position_embeddings": 8192, "rms_norm_eps": 1e-05, "rope_theta": 100000, "hidden_act": "silu",
             "tie_word_embeddings": true, "bos_token_id": 0, "eos_token_id": 0, "attention_bias": false, "mlp_bias": false}
            """,
        // Qwen/Qwen2.5-0.5B
        ["qwen2.5-0.5b"] = """
            {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 896, "intermediate_size": 4864,
             "num_hidden_layers": 24, "num_attention_heads": 14, "num_key_value_heads": 2, "vocab_size": 151936,
             "max_position_embeddings": 32768, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "hidden_act": "silu",
             "tie_word_embeddings": true, "bos_token_id": 151643, "eos_token_id": 151643, "sliding_window": 32768, "use_sliding_window": false}
            """,
        // TinyLlama/TinyLlama-1.1B-Chat-v1.0
        ["tinyllama-1.1b"] = """
            {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 2048, "intermediate_size": 5632,
             "num_hidden_layers": 22, "num_attention_heads": 32, "num_key_value_heads": 4, "vocab_size": 32000,
             "max_position_embeddings": 2048, "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "hidden_act": "silu",
             "tie_word_embeddings": false, "bos_token_id": 1, "eos_token_id": 2}
            """,
        // microsoft/Phi-3-mini-4k-instruct
        ["phi-3-mini"] = """
            {"architectures": ["Phi3ForCausalLM"], "model_type": "phi3", "hidden_size": 3072, "intermediate_size": 8192,
             "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 32, "vocab_size": 32064,
             "max_position_embeddings": 4096, "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "hidden_act": "silu",
             "tie_word_embeddings": false, "bos_token_id": 1, "eos_token_id": 32000, "sliding_window": 2047}
            """,
    };

    public static IReadOnlyList<string> Names => [.. Json.Keys];

    /// <summary>The named configuration; null for a name that is not one of <see cref="Names"/>.</summary>
    public static LlamaConfig? Get(string name) => Json.TryGetValue(name, out var json) ? LlamaConfig.Parse(json, name) : null;
}
