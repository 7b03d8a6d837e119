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

    /// <summary>The tokenizer loader reads this file beside tokenizer.json when it is there (special tokens).</summary>
    public const string TokenizerConfigFile = "tokenizer_config.json";

    private readonly object _gate = new();
    private IReadOnlyList<FileStamp> _stamps;

    private OnnxArtifact(string directory, ArtifactManifest manifest, LlamaConfig config, ITokenizer tokenizer, OnnxDecoder decoder, IReadOnlyList<FileStamp> stamps)
    {
        Directory = directory;
        Manifest = manifest;
        Config = config;
        Tokenizer = tokenizer;
        Decoder = decoder;
        _stamps = stamps;
    }

    /// <summary>Every file this artifact was loaded from (manifest.json included), relative to <see cref="Directory"/>.</summary>
    public IReadOnlyList<string> LoadedFiles => _stamps.Select(s => s.RelativePath).ToList();

    /// <summary>
    /// True when a file the artifact was loaded from has a different size or write time than when it was checked (or
    /// is gone). Cheap (no hashing): a cache of open artifacts asks this before each use and then calls
    /// <see cref="VerifyUnchanged"/>, or opens the folder again.
    /// </summary>
    public bool FilesChangedSinceOpened => _stamps.Any(s => !s.Matches(Directory));

    /// <summary>
    /// Checks every file whose size or time changed against manifest.json's SHA-256 again; throws
    /// <see cref="InvalidModelFileException"/> when one no longer matches (or manifest.json itself changed: then the
    /// artifact must be opened again), and otherwise remembers the new times so the next check is cheap again.
    /// </summary>
    public void VerifyUnchanged()
    {
        lock (_gate)
        {
            var stamps = _stamps.ToList();
            for (var i = 0; i < stamps.Count; i++)
            {
                if (stamps[i].Matches(Directory)) continue;
                if (stamps[i].RelativePath == ArtifactManifest.FileName)
                    throw new InvalidModelFileException($"{ArtifactManifest.FileName} in {Directory} changed after the model was loaded; the model must be loaded again (and checked against the new manifest).");
                Manifest.VerifyFile(Directory, stamps[i].RelativePath);
                stamps[i] = FileStamp.Of(Directory, stamps[i].RelativePath);
            }
            _stamps = stamps;
        }
    }

    /// <summary>Opens <paramref name="dir"/>, refusing a missing, incomplete or tampered artifact with a clear message.</summary>
    public static OnnxArtifact Open(string dir) => Open(dir, TokenizerFile.Load);

    /// <summary>As <see cref="Open(string)"/> with a custom tokenizer loader (given the verified tokenizer.json path)
    /// and, optionally, ONNX Runtime's intra-op thread count (default: see <see cref="OnnxDecoder.DefaultOptions"/>).</summary>
    public static OnnxArtifact Open(string dir, Func<string, ITokenizer> loadTokenizer, int? intraOpThreads = null)
    {
        // Stamped before anything is checked: a file replaced while the artifact opens shows as changed afterwards.
        var stamps = new List<FileStamp> { FileStamp.Of(dir, ArtifactManifest.FileName) };
        var manifest = ArtifactManifest.Load(dir);
        var onnxName = string.IsNullOrEmpty(manifest.OnnxModel) ? ArtifactManifest.DefaultOnnxModel : manifest.OnnxModel;
        void Verify(string relativePath)
        {
            stamps.Add(FileStamp.Of(dir, relativePath));
            manifest.VerifyFile(dir, relativePath);
        }

        // Every file the loaders read is checked first: config.json, tokenizer.json and the tokenizer_config.json beside
        // it (its special tokens decide where generation stops), which must be in the manifest when it is there.
        Verify(ModelFolder.ConfigFile);
        var config = LlamaConfig.Load(Path.Combine(dir, ModelFolder.ConfigFile));
        Verify(ModelFolder.TokenizerFile);
        if (File.Exists(Path.Combine(dir, TokenizerConfigFile)) || manifest.Files.Any(f => f.Path == TokenizerConfigFile))
        {
            if (manifest.Files.All(f => f.Path != TokenizerConfigFile))
                throw new InvalidModelFileException($"{TokenizerConfigFile} in {dir} is not listed in manifest.json, so it cannot be checked and is not loaded: the artifact was changed after export. Export the model again or remove that file.");
            Verify(TokenizerConfigFile);
        }
        ModelFolder.CheckTokenizer(Path.Combine(dir, ModelFolder.TokenizerFile), config.VocabSize);
        var tokenizer = loadTokenizer(Path.Combine(dir, ModelFolder.TokenizerFile));
        if (tokenizer.VocabSize > config.VocabSize)
            throw new InvalidModelFileException($"tokenizer.json has {tokenizer.VocabSize} tokens but the model only {config.VocabSize}; they do not belong together. Export the model again.");

        OnnxDecoder decoder;
        var dataName = onnxName + ".data";
        if (manifest.Files.Any(f => f.Path == dataName))
        {
            // External weights: ONNX Runtime must read them from disk beside the model, so both files are hashed first.
            Verify(onnxName);
            Verify(dataName);
            decoder = OnnxDecoder.Load(Path.Combine(dir, onnxName), config, intraOpThreads);
        }
        else
        {
            // The session is created from exactly the bytes that were hashed.
            stamps.Add(FileStamp.Of(dir, onnxName));
            var bytes = manifest.ReadVerified(dir, onnxName);
            decoder = OnnxDecoder.Load(bytes, config, onnxName, intraOpThreads);
        }
        return new OnnxArtifact(Path.GetFullPath(dir), manifest, config, tokenizer, decoder, stamps);
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

    /// <summary>
    /// Where the artifact's streamed generations run: overlapping requests share decoder calls (see
    /// <see cref="GenerationBatcher"/>). Created on first use; it holds threads only while generations run.
    /// </summary>
    internal GenerationBatcher Batcher => LazyInitializer.EnsureInitialized(ref _batcher, () => GenerationBatcher.For(this));
    private GenerationBatcher? _batcher;

    public void Dispose() => Decoder.Dispose();

    /// <summary>A file's size and last write time when it was checked; a missing file has size -1.</summary>
    private sealed record FileStamp(string RelativePath, long Bytes, DateTime WrittenUtc)
    {
        public static FileStamp Of(string dir, string relativePath)
        {
            var info = new FileInfo(Path.Combine(dir, relativePath));
            return info.Exists ? new FileStamp(relativePath, info.Length, info.LastWriteTimeUtc) : new FileStamp(relativePath, -1, default);
        }

        public bool Matches(string dir) => Of(dir, RelativePath) == this;
    }
}
