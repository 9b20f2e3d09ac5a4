rm -rf /opt/kit-collab/communes/saint-essai-fr/.lock
