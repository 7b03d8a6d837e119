using SlmStudio.Core.Artifacts;
using SlmStudio.Core.Models;
using SlmStudio.Core.Tokenization;

namespace SlmStudio.Core.Inference;

/// <summary>
/// An exported artifact folder opened for inference: every file it loads is checked against manifest.json's SHA-256
/// first, then one ONNX Runtime session is created and shared. Thread-safe: <see cref="Decoder"/>'s Run may be called
/// from any number of threads at once.
/// </summary>
public sealed class OnnxArtifact : IDisposable
{
    public string Directory { get; }
    public ArtifactManifest Manifest { get; }
    public LlamaConfig Config { get; }
    public ITokenizer Tokenizer { get; }
    public OnnxDecoder Decoder { get; }

    private OnnxArtifact(string directory, ArtifactManifest manifest, LlamaConfig config, ITokenizer tokenizer, OnnxDecoder decoder)
    {
        Directory = directory;
        Manifest = manifest;
        Config = config;
        Tokenizer = tokenizer;
        Decoder = decoder;
    }

    /// <summary>Opens <paramref name="dir"/>, refusing a missing, incomplete or tampered artifact with a clear message.</summary>
    public static OnnxArtifact Open(string dir) => Open(dir, TokenizerFile.Load);

    /// <summary>As <see cref="Open(string)"/> with a custom tokenizer loader (given the verified tokenizer.json path)
    /// and, optionally, ONNX Runtime's intra-op thread count (default: see <see cref="OnnxDecoder.DefaultOptions"/>).</summary>
    public static OnnxArtifact Open(string dir, Func<string, ITokenizer> loadTokenizer, int? intraOpThreads = null)
    {
        var manifest = ArtifactManifest.Load(dir);
        var onnxName = string.IsNullOrEmpty(manifest.OnnxModel) ? ArtifactManifest.DefaultOnnxModel : manifest.OnnxModel;

        // config.json and tokenizer.json are checked, then parsed from the same bytes' file (they are small).
        manifest.VerifyFile(dir, ModelFolder.ConfigFile);
        var config = LlamaConfig.Load(Path.Combine(dir, ModelFolder.ConfigFile));
        manifest.VerifyFile(dir, ModelFolder.TokenizerFile);
        var tokenizer = loadTokenizer(Path.Combine(dir, ModelFolder.TokenizerFile));
        if (tokenizer.VocabSize > config.VocabSize)
            throw new InvalidModelFileException($"tokenizer.json has {tokenizer.VocabSize} tokens but the model only {config.VocabSize}; they do not belong together. Export the model again.");

        OnnxDecoder decoder;
        var dataName = onnxName + ".data";
        if (manifest.Files.Any(f => f.Path == dataName))
        {
            // External weights: ONNX Runtime must read them from disk beside the model, so both files are hashed first.
            manifest.VerifyFile(dir, onnxName);
            manifest.VerifyFile(dir, dataName);
            decoder = OnnxDecoder.Load(Path.Combine(dir, onnxName), config, intraOpThreads);
        }
        else
        {
            // The session is created from exactly the bytes that were hashed.
            var bytes = manifest.ReadVerified(dir, onnxName);
            decoder = OnnxDecoder.Load(bytes, config, onnxName, intraOpThreads);
        }
        return new OnnxArtifact(Path.GetFullPath(dir), manifest, config, tokenizer, decoder);
    }

    /// <summary>The id that starts a text from nothing: the tokenizer's beginning-of-text token, else the model's.</summary>
    public int BeginningOfTextId =>
        Tokenizer.BosId ?? Config.BosTokenId ?? Tokenizer.EosId ?? Config.EosTokenId
        ?? throw new EngineException("This model has no beginning-of-text or end-of-text token, so it cannot start from an empty prompt; give a prompt.");

    /// <summary>The id that ends generation, if the model has one.</summary>
    public int? EndOfTextId => Tokenizer.EosId ?? Config.EosTokenId;

    /// <summary>One decoder call on the shared session (thread-safe); see <see cref="OnnxDecoder.Run"/>.</summary>
    public DecoderOutput Run(ReadOnlySpan<long> inputIds, ReadOnlySpan<long> attentionMask, ReadOnlySpan<long> positionIds, int batch, int seqLen, OnnxKvCache past) =>
        Decoder.Run(inputIds, attentionMask, positionIds, batch, seqLen, past);

    public void Dispose() => Decoder.Dispose();
}
