// Downloads stream from the server; this helper exists so pages can trigger one without leaving the circuit.
window.slmStudio = {
    download: (url) => { const a = document.createElement('a'); a.href = url; a.download = ''; document.body.appendChild(a); a.click(); a.remove(); }
};
