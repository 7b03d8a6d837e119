using System.Text.Json.Nodes;
using SlmStudio.Core.Models;

namespace SlmStudio.Core.Export;

/// <summary>
/// genai_config.json for onnxruntime-genai: model type (the family's config.json model_type, which is also genai's name for it), token ids, the decoder file and its input/output names.
/// The KV cache is not a shared buffer (past_present_share_buffer false) because our graph concatenates past and new
/// keys with standard operators, so present is one step longer than past.
/// </summary>
public static class GenaiConfig
{
    public const string FileName = "genai_config.json";

    /// <param name="endOfTurnIds">A chat model's end-of-turn tokens: onnxruntime-genai stops at any id of an eos_token_id list.</param>
    public static string ToJson(LlamaConfig config, string onnxFile = "model.onnx", IReadOnlyList<int>? endOfTurnIds = null)
    {
        int eos = config.EosTokenId ?? 0;
        var decoder = new JsonObject
        {
            ["session_options"] = new JsonObject { ["log_id"] = "onnxruntime-genai", ["provider_options"] = new JsonArray() },
            ["filename"] = onnxFile,
            ["head_size"] = config.HeadDim,
            ["hidden_size"] = config.HiddenSize,
            ["inputs"] = new JsonObject
            {
                ["input_ids"] = "input_ids",
                ["attention_mask"] = "attention_mask",
                ["position_ids"] = "position_ids",
                ["past_key_names"] = "past_key_values.%d.key",
                ["past_value_names"] = "past_key_values.%d.value",
            },
            ["outputs"] = new JsonObject
            {
                ["logits"] = "logits",
                ["present_key_names"] = "present.%d.key",
                ["present_value_names"] = "present.%d.value",
            },
            ["num_attention_heads"] = config.NumHeads,
            ["num_hidden_layers"] = config.NumLayers,
            ["num_key_value_heads"] = config.NumKvHeads,
        };
        var model = new JsonObject
        {
            ["bos_token_id"] = config.BosTokenId ?? eos,
            ["context_length"] = config.MaxPositions,
            ["decoder"] = decoder,
            ["eos_token_id"] = endOfTurnIds is { Count: > 0 } ? new JsonArray([.. endOfTurnIds.Prepend(eos).Distinct().Select(id => (JsonNode)id)]) : eos,
            ["pad_token_id"] = config.PadTokenId ?? eos,
            ["type"] = config.ModelType, // onnxruntime-genai's names: llama, qwen2, mistral, phi3, phi
            ["vocab_size"] = config.VocabSize,
        };
        var search = new JsonObject
        {
            ["diversity_penalty"] = 0.0,
            ["do_sample"] = false,
            ["early_stopping"] = true,
            ["length_penalty"] = 1.0,
            ["max_length"] = config.MaxPositions,
            ["min_length"] = 0,
            ["no_repeat_ngram_size"] = 0,
            ["num_beams"] = 1,
            ["num_return_sequences"] = 1,
            ["past_present_share_buffer"] = false,
            ["repetition_penalty"] = 1.0,
            ["temperature"] = 1.0,
            ["top_k"] = 1,
            ["top_p"] = 1.0,
        };
        return new JsonObject { ["model"] = model, ["search"] = search }.ToJsonString(new() { WriteIndented = true });
    }
}
